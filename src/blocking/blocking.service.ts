import { Injectable, Logger } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';

import type { UserRef } from '#src/accounts/users.service.js';
import { BlockEntity } from '#src/blocking/block.entity.js';
import type { BlockView } from '#src/blocking/block-view.js';
import { AppError } from '#src/common/errors/problems.js';
import { bareJid, JidError, parseJid } from '#src/common/jid.js';
import { TtlCache } from '#src/common/ttl-cache.js';
import { AppConfig } from '#src/config/app-config.js';
import { queryPrepared } from '#src/database/prepared-query.js';
import { RouterService } from '#src/routing/router.service.js';

/** Told after a blocklist changed and committed, to adjust presence. */
export interface BlocklistChange {
  readonly owner: UserRef;
  readonly jids: readonly string[];
  readonly blocked: boolean;
}

export type BlocklistListener = (change: BlocklistChange) => void;

/** What a one-to-one send does once blocklists are consulted. */
export type SendVerdict = 'deliver' | 'drop';

/** Blocklists are read on every send; changes reach every node's cache through the cluster bus. */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 50_000;
const NO_BLOCKS: ReadonlySet<string> = new Set();

/**
 * Blocklists (XEP-0191). Other parts ask it whether a stanza may pass:
 * one-to-one messages, presence, typing, subscription requests, rooms.
 */
@Injectable()
export class BlockingService {
  private readonly logger = new Logger('Blocking');
  private readonly cache = new TtlCache<ReadonlySet<string>>(CACHE_MAX);
  private readonly listeners: BlocklistListener[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly router: RouterService,
  ) {
    this.router.onNotice((message) => {
      if (message.kind === 'blocks-changed') {
        this.cache.delete(message.ownerId);
      }
    });
  }

  onChange(listener: BlocklistListener): void {
    this.listeners.push(listener);
  }

  /** The JIDs and domains the user blocks; from the cache when warm. */
  async blocklistOf(ownerId: string): Promise<ReadonlySet<string>> {
    const cached = this.cache.get(ownerId);
    if (cached !== undefined) {
      return cached;
    }
    const rows = await queryPrepared<{ jid: string }>(
      this.dataSource.manager,
      'blocklist',
      'SELECT jid FROM blocks WHERE owner_id = $1',
      [ownerId],
    );
    // Most users block no one: they share one empty set instead of a cached set each.
    const blocked = rows.length === 0 ? NO_BLOCKS : new Set(rows.map((row) => row.jid));
    this.cache.set(ownerId, blocked, CACHE_TTL_MS);

    return blocked;
  }

  /** Whether `ownerId` blocks the bare JID `jid`, by the JID itself or by its domain. */
  async isBlocked(ownerId: string, jid: string): Promise<boolean> {
    return matches(await this.blocklistOf(ownerId), jid);
  }

  /**
   * The one-to-one rule of XEP-0191 section 3.6 and 3.5: a user sending to
   * an address they block is refused; a message to someone who blocks the
   * sender is dropped without telling the sender.
   */
  async checkSend(
    sender: { readonly id: string | null; readonly jid: string },
    recipient: UserRef,
  ): Promise<SendVerdict> {
    if (sender.id !== null && (await this.isBlocked(sender.id, recipient.jid))) {
      throw recipientBlocked(recipient);
    }

    return (await this.isBlocked(recipient.id, sender.jid)) ? 'drop' : 'deliver';
  }

  /**
   * `checkSend` answered from the cache, without a promise, when both
   * blocklists are cached; undefined when one has to be read first.
   */
  checkSendCached(
    sender: { readonly id: string | null; readonly jid: string },
    recipient: UserRef,
  ): SendVerdict | undefined {
    const senderList = sender.id === null ? undefined : this.cache.get(sender.id);
    const recipientList = this.cache.get(recipient.id);
    if ((sender.id !== null && senderList === undefined) || recipientList === undefined) {
      return undefined;
    }
    if (senderList !== undefined && matches(senderList, recipient.jid)) {
      throw recipientBlocked(recipient);
    }

    return matches(recipientList, sender.jid) ? 'drop' : 'deliver';
  }

  /** Those of `candidates` (bare user JIDs here) that block `jid`; one query. */
  async blockersAmong(jid: string, candidates: readonly string[]): Promise<Set<string>> {
    if (candidates.length === 0) {
      return new Set();
    }
    const rows = await this.dataSource.query<{ owner: string }[]>(
      `SELECT u.username || '@' || u.domain AS owner
         FROM blocks b JOIN users u ON u.id = b.owner_id
        WHERE b.jid IN ($1, $2)
          AND u.username || '@' || u.domain = ANY($3::text[])`,
      [jid, domainOf(jid), candidates],
    );

    return new Set(rows.map((row) => row.owner));
  }

  async list(owner: UserRef): Promise<BlockView[]> {
    const rows = await this.dataSource
      .getRepository(BlockEntity)
      .find({ where: { ownerId: owner.id }, order: { jid: 'ASC' } });

    return rows.map(toView);
  }

  /** Blocks a JID; `created` is false when it was blocked already. */
  async block(owner: UserRef, input: string): Promise<{ view: BlockView; created: boolean }> {
    const jid = parseBlockTarget(input, 'jid');
    if (jid === owner.jid) {
      throw new AppError('validation', {
        detail: 'you cannot block yourself',
        fields: [{ name: 'jid', reason: 'your own address' }],
      });
    }
    const result = await this.dataSource.transaction(async (manager) => {
      await lockBlocklist(manager, owner.id);
      const existing = await manager.findOneBy(BlockEntity, { ownerId: owner.id, jid });
      if (existing !== null) {
        return { row: existing, created: false };
      }
      const count = await manager.countBy(BlockEntity, { ownerId: owner.id });
      if (count >= this.config.blocking.maxPerUser) {
        throw new AppError('blocks-limit-reached', {
          detail: `a user blocks at most ${this.config.blocking.maxPerUser} addresses (BLOCKS_MAX_PER_USER)`,
        });
      }
      const row = await manager.save(manager.create(BlockEntity, { ownerId: owner.id, jid }));

      return { row, created: true };
    });
    const view = toView(result.row);
    if (result.created) {
      await this.changed(owner, [jid], true, [{ event: 'block', data: view }]);
    }

    return { view, created: result.created };
  }

  /**
   * Blocks several JIDs at once (XEP-0191 section 3.3): every item is
   * checked first and all are added in one transaction, or none; returns
   * the ones that were not blocked already.
   */
  async blockMany(owner: UserRef, inputs: readonly string[]): Promise<BlockView[]> {
    const jids = [...new Set(inputs.map((input) => parseBlockTarget(input, 'jid')))];
    if (jids.includes(owner.jid)) {
      throw new AppError('validation', {
        detail: 'you cannot block yourself',
        fields: [{ name: 'jid', reason: 'your own address' }],
      });
    }
    const rows = await this.dataSource.transaction(async (manager) => {
      await lockBlocklist(manager, owner.id);
      const existing = new Set(
        (
          await manager.find(BlockEntity, { select: { jid: true }, where: { ownerId: owner.id } })
        ).map((row) => row.jid),
      );
      const added = jids.filter((jid) => !existing.has(jid));
      if (existing.size + added.length > this.config.blocking.maxPerUser) {
        throw new AppError('blocks-limit-reached', {
          detail: `a user blocks at most ${this.config.blocking.maxPerUser} addresses (BLOCKS_MAX_PER_USER)`,
        });
      }

      return manager.save(
        added.map((jid) => manager.create(BlockEntity, { ownerId: owner.id, jid })),
      );
    });
    const views = rows.map(toView);
    if (views.length > 0) {
      await this.changed(
        owner,
        views.map((view) => view.jid),
        true,
        views.map((view) => ({ event: 'block' as const, data: view })),
      );
    }

    return views;
  }

  /** Unblocks one JID; false when it was not blocked. */
  async unblock(owner: UserRef, input: string): Promise<boolean> {
    const jid = parseBlockTarget(input, 'jid');
    const deleted = await this.dataSource
      .getRepository(BlockEntity)
      .delete({ ownerId: owner.id, jid });
    if ((deleted.affected ?? 0) === 0) {
      return false;
    }
    await this.changed(owner, [jid], false, [{ event: 'block:removed', data: { jid } }]);

    return true;
  }

  /** Unblocks several JIDs in one statement, each checked first; returns those that were blocked. */
  async unblockMany(owner: UserRef, inputs: readonly string[]): Promise<string[]> {
    const jids = [...new Set(inputs.map((input) => parseBlockTarget(input, 'jid')))];
    const deleted = await this.dataSource
      .createQueryBuilder()
      .delete()
      .from(BlockEntity)
      .where({ ownerId: owner.id, jid: In(jids) })
      .returning('jid')
      .execute();
    const removed = (deleted.raw as { jid: string }[]).map((row) => row.jid).sort();
    if (removed.length > 0) {
      await this.changed(
        owner,
        removed,
        false,
        removed.map((jid) => ({ event: 'block:removed' as const, data: { jid } })),
      );
    }

    return removed;
  }

  /** Empties the blocklist (XEP-0191 section 3.4); returns what was unblocked. */
  async unblockAll(owner: UserRef): Promise<string[]> {
    const deleted = await this.dataSource
      .createQueryBuilder()
      .delete()
      .from(BlockEntity)
      .where({ ownerId: owner.id })
      .returning('jid')
      .execute();
    const jids = (deleted.raw as { jid: string }[]).map((row) => row.jid).sort();
    if (jids.length > 0) {
      await this.changed(
        owner,
        jids,
        false,
        jids.map((jid) => ({ event: 'block:removed' as const, data: { jid } })),
      );
    }

    return jids;
  }

  private async changed(
    owner: UserRef,
    jids: readonly string[],
    blocked: boolean,
    pushes: readonly (
      | { readonly event: 'block'; readonly data: BlockView }
      | { readonly event: 'block:removed'; readonly data: { readonly jid: string } }
    )[],
  ): Promise<void> {
    // Every node's cache first, so nothing the user's next request causes sees the old list.
    await this.router.notifyAll({ kind: 'blocks-changed', ownerId: owner.id });
    await Promise.all(pushes.map((push) => this.router.deliver(owner.jid, push))).catch(
      (error: unknown) => this.logger.warn({ err: error }, 'blocklist push failed'),
    );
    this.listeners.forEach((listener) => listener({ owner, jids, blocked }));
  }
}

/** A blocklist item: a bare JID or a domain (XEP-0191 section 3.2 matches full JIDs too; REST speaks bare). */
export function parseBlockTarget(value: string, field: string): string {
  try {
    const jid = parseJid(value);
    if (jid.resource !== undefined) {
      throw new JidError('a blocklist item has no resource', value);
    }

    return bareJid(jid);
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

/** XEP-0191 section 3.6: the sender blocks the address it sends to. */
function recipientBlocked(recipient: UserRef): AppError {
  return new AppError('recipient-blocked', {
    detail: `you block ${recipient.jid}`,
    fields: [{ name: 'to', reason: 'blocked by you' }],
  });
}

function matches(blocklist: ReadonlySet<string>, jid: string): boolean {
  return blocklist.size > 0 && (blocklist.has(jid) || blocklist.has(domainOf(jid)));
}

function domainOf(jid: string): string {
  return jid.slice(jid.indexOf('@') + 1);
}

/** Serializes changes to one user's blocklist, so the limit holds under concurrent adds. */
async function lockBlocklist(manager: EntityManager, ownerId: string): Promise<void> {
  await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('blocks:' || $1, 0))`, [
    ownerId,
  ]);
}

function toView(row: BlockEntity): BlockView {
  return { jid: row.jid, blocked_at: row.createdAt.toISOString() };
}
