import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager, MoreThan, Repository } from 'typeorm';

import { DomainsService, parseDomainName } from '#src/accounts/domains.service.js';
import { PasswordHasher } from '#src/accounts/password-hasher.js';
import {
  decodeScramCredential,
  type ScramCredential,
  type ScramHash,
} from '#src/accounts/scram.js';
import { UserEntity } from '#src/accounts/user.entity.js';
import { AppError } from '#src/common/errors/problems.js';
import { JidError, normalizeLocal, normalizeUserJid } from '#src/common/jid.js';
import { queryPrepared } from '#src/database/prepared-query.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { RouterService } from '#src/routing/router.service.js';

/** A user as the rest of the server sees one. */
export interface UserRef {
  readonly id: string;
  readonly jid: string;
  readonly credentialVersion: number;
}

export interface UserPage {
  readonly users: UserEntity[];
  readonly nextCursor?: string;
}

/**
 * Work another module does in the transaction that deletes a user, before
 * the row goes (rooms hand on ownership and record the departure); what it
 * returns runs after the commit (live pushes).
 */
export type UserDeletionHook = (
  manager: EntityManager,
  user: UserRef,
) => Promise<(() => Promise<void>) | undefined>;

/** How long a positive lookup of a user by JID is reused. */
const LOOKUP_TTL_MS = 10_000;
/**
 * A lookup used when older than this is read again in the background: a
 * user who keeps getting messages keeps a fresh entry, and no send waits
 * for the database when the entry would otherwise have expired.
 */
const LOOKUP_REFRESH_MS = LOOKUP_TTL_MS / 2;
const LOOKUP_CACHE_MAX = 50_000;

interface Lookup {
  readonly user: UserRef;
  readonly at: number;
  /** A background read of this user is under way. */
  refreshing?: boolean;
}

@Injectable()
export class UsersService {
  private readonly users: Repository<UserEntity>;
  private readonly logger = new Logger('Users');
  private readonly lookups = new Map<string, Lookup>();
  private readonly deletionHooks: UserDeletionHook[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly domains: DomainsService,
    private readonly hasher: PasswordHasher,
    private readonly router: RouterService,
    private readonly events: EventRecorder,
  ) {
    this.users = dataSource.getRepository(UserEntity);
    this.router.onNotice((message) => {
      if (message.kind === 'credentials-changed') {
        this.lookups.delete(message.jid);
      }
    });
  }

  async register(domainName: string, username: string, password: string): Promise<UserEntity> {
    const domain = parseDomainName(domainName);
    const local = parseUsername(username);
    await this.domains.assertExists(domain);
    let recorded = 0;
    const credentials = await this.hasher.derive(password);
    const jid = `${local}@${domain}`;
    const id = await this.dataSource.transaction(async (manager) => {
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(UserEntity)
        .values({ domain, username: local, ...credentials })
        .orIgnore()
        .returning('id')
        .execute();
      const row = (inserted.raw as { id: string }[])[0];
      if (row === undefined) {
        throw new AppError('user-exists', { detail: `${jid} already exists` });
      }
      recorded = await this.events.record(manager, [
        { type: 'user.created', domain, data: { jid } },
      ]);

      return row.id;
    });
    if (recorded > 0) {
      this.events.committed();
    }

    return this.users.findOneByOrFail({ id });
  }

  async list(domainName: string, limit: number, after?: string): Promise<UserPage> {
    const domain = parseDomainName(domainName);
    await this.domains.assertExists(domain);
    const rows = await this.users.find({
      where: { domain, ...(after === undefined ? {} : { username: MoreThan(after) }) },
      order: { username: 'ASC' },
      take: limit + 1,
    });
    const page = rows.slice(0, limit);

    return { users: page, ...(rows.length > limit ? { nextCursor: page.at(-1)?.username } : {}) };
  }

  async count(domainName: string): Promise<number> {
    const domain = parseDomainName(domainName);
    await this.domains.assertExists(domain);

    return this.users.countBy({ domain });
  }

  async get(domainName: string, username: string): Promise<UserEntity> {
    const domain = parseDomainName(domainName);
    const local = parseUsername(username);
    const user = await this.users.findOneBy({ domain, username: local });
    if (user === null) {
      throw new AppError('user-not-found', { detail: `${local}@${domain} does not exist` });
    }

    return user;
  }

  async changePassword(domainName: string, username: string, password: string): Promise<void> {
    const user = await this.get(domainName, username);
    const credentials = await this.hasher.derive(password);
    await this.dataSource.transaction(async (manager) => {
      await manager.update(
        UserEntity,
        { id: user.id },
        { ...credentials, credentialVersion: () => 'credential_version + 1' },
      );
      // Tokens issued for the old password stop working.
      await manager.query(
        'UPDATE tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL',
        [user.id],
      );
    });
    await this.router.notifyAll({ kind: 'credentials-changed', jid: user.jid });
  }

  /** Registers work to do in every user deletion's transaction. */
  onDelete(hook: UserDeletionHook): void {
    this.deletionHooks.push(hook);
  }

  /** Deletes the user with their archive and tokens, and ends their sessions. */
  async delete(domainName: string, username: string): Promise<void> {
    const user = await this.get(domainName, username);
    const afterCommit: (() => Promise<void>)[] = [];
    const recorded = await this.dataSource.transaction(async (manager) => {
      for (const hook of this.deletionHooks) {
        const after = await hook(manager, user);
        if (after !== undefined) {
          afterCommit.push(after);
        }
      }
      await manager.delete(UserEntity, { id: user.id });

      return this.events.record(manager, [
        { type: 'user.deleted', domain: user.domain, data: { jid: user.jid } },
      ]);
    });
    if (recorded > 0) {
      this.events.committed();
    }
    await this.router.notifyAll({ kind: 'credentials-changed', jid: user.jid });
    for (const after of afterCommit) {
      await after().catch((error: unknown) =>
        this.logger.error({ err: error, jid: user.jid }, 'work after a user deletion failed'),
      );
    }
  }

  /**
   * The user as `findByJid` cached it, while fresh; undefined when it would
   * have to ask the database. An entry past half its life is read again in
   * the background meanwhile.
   */
  cachedByJid(jid: string): UserRef | undefined {
    const cached = this.lookups.get(jid);
    if (cached === undefined) {
      return undefined;
    }
    const age = Date.now() - cached.at;
    if (age >= LOOKUP_TTL_MS) {
      return undefined;
    }
    if (age >= LOOKUP_REFRESH_MS && cached.refreshing !== true) {
      this.refresh(jid, cached);
    }

    return cached.user;
  }

  /** Finds a user by bare JID, for routing messages; cached briefly. */
  async findByJid(jid: string): Promise<UserRef | undefined> {
    return this.cachedByJid(jid) ?? this.lookUp(jid, this.lookups.get(jid));
  }

  private refresh(jid: string, cached: Lookup): void {
    cached.refreshing = true;
    this.lookUp(jid, cached).catch((error: unknown) => {
      // The entry serves until it expires; the next use past half its life tries again.
      cached.refreshing = false;
      this.logger.warn({ err: error, jid }, 'refreshing a user lookup failed');
    });
  }

  /**
   * Reads the user and caches the answer, unless the entry changed while
   * the query ran (`replacing` is what it was): a credentials-changed
   * notice meanwhile must not be undone by a row read before the change.
   */
  private async lookUp(jid: string, replacing: Lookup | undefined): Promise<UserRef | undefined> {
    const at = jid.indexOf('@');
    // On every message and login: plain SQL, no query builder.
    const rows = await queryPrepared<{ id: string; credential_version: number }>(
      this.dataSource.manager,
      'user-lookup',
      'SELECT id, credential_version FROM users WHERE username = $1 AND domain = $2',
      [jid.slice(0, at), jid.slice(at + 1)],
    );
    const row = rows[0];
    const unchanged = this.lookups.get(jid) === replacing;
    if (row === undefined) {
      if (unchanged) {
        this.lookups.delete(jid);
      }

      return undefined;
    }
    const user = { id: row.id, jid, credentialVersion: row.credential_version };
    if (unchanged) {
      if (this.lookups.size >= LOOKUP_CACHE_MAX) {
        this.lookups.clear();
      }
      this.lookups.set(jid, { user, at: Date.now() });
    }

    return user;
  }

  /** The stored SCRAM keys of a user (RFC 5802 section 3), for SASL only. */
  async scramCredentialsOf(
    jid: string,
    hash: ScramHash,
  ): Promise<{ readonly user: UserRef; readonly credential: ScramCredential } | undefined> {
    const at = jid.indexOf('@');
    const column = hash === 'sha1' ? 'scram_sha1' : 'scram_sha256';
    const rows = await queryPrepared<{ id: string; credential_version: number; scram: string }>(
      this.dataSource.manager,
      `user-scram-${hash}`,
      `SELECT id, credential_version, ${column} AS scram FROM users WHERE username = $1 AND domain = $2`,
      [jid.slice(0, at), jid.slice(at + 1)],
    );
    const row = rows[0];
    if (row === undefined) {
      return undefined;
    }

    return {
      user: { id: row.id, jid, credentialVersion: row.credential_version },
      credential: decodeScramCredential(row.scram),
    };
  }

  /** The stored password hash of a user, for authentication only. */
  async credentialsOf(
    jid: string,
  ): Promise<(UserRef & { readonly passwordHash: string }) | undefined> {
    const at = jid.indexOf('@');
    const row = await this.users.findOne({
      select: {
        id: true,
        username: true,
        domain: true,
        credentialVersion: true,
        passwordHash: true,
      },
      where: { username: jid.slice(0, at), domain: jid.slice(at + 1) },
    });

    return row === null
      ? undefined
      : {
          id: row.id,
          jid: row.jid,
          credentialVersion: row.credentialVersion,
          passwordHash: row.passwordHash,
        };
  }
}

export function parseUsername(username: string): string {
  try {
    return normalizeLocal(username);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new AppError('invalid-jid', {
        detail: error.message,
        fields: [{ name: 'username', reason: error.reason }],
        cause: error,
      });
    }
    throw error;
  }
}

/** Normalizes a bare user JID from a request field, or answers 400 naming the field. */
export function parseUserAddress(value: string, field: string): string {
  try {
    return normalizeUserJid(value);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new AppError('invalid-jid', {
        detail: `${field}: ${error.message}`,
        fields: [{ name: field, reason: error.reason }],
        cause: error,
      });
    }
    throw error;
  }
}
