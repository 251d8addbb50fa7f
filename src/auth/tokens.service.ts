import { createHash, randomBytes } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import { DataSource, In, IsNull, Repository } from 'typeorm';

import type { UserRef } from '#src/accounts/users.service.js';
import { UserEntity } from '#src/accounts/user.entity.js';
import { DomainsService } from '#src/accounts/domains.service.js';
import { TokenEntity } from '#src/auth/token.entity.js';
import { AppError } from '#src/common/errors/problems.js';
import { TtlCache } from '#src/common/ttl-cache.js';
import { AppConfig } from '#src/config/app-config.js';
import { RouterService } from '#src/routing/router.service.js';

export interface IssuedTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
  readonly refreshExpiresIn: number;
}

export interface VerifiedToken {
  readonly user: UserRef;
  readonly tokenId: string;
}

/** A checked access token is trusted this long before the database is asked again. */
const VERIFIED_TTL_MS = 30_000;

/**
 * Opaque bearer tokens: 32 random bytes each, stored only as SHA-256 digests.
 * Refreshing rotates the pair; presenting a refresh token that was already
 * rotated away revokes every token of the user (it has been copied).
 */
@Injectable()
export class TokensService {
  private readonly tokens: Repository<TokenEntity>;
  private readonly verified = new TtlCache<VerifiedToken>(100_000);

  constructor(
    dataSource: DataSource,
    private readonly domains: DomainsService,
    private readonly config: AppConfig,
    private readonly router: RouterService,
  ) {
    this.tokens = dataSource.getRepository(TokenEntity);
    router.onNotice((message) => {
      if (message.kind === 'token-revoked') {
        this.verified.delete(message.tokenHash);
      } else if (message.kind === 'credentials-changed') {
        this.verified.deleteTag(message.jid);
      }
    });
  }

  async issue(user: UserRef): Promise<IssuedTokens> {
    const accessToken = `at_${randomBytes(32).toString('base64url')}`;
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    const { accessTtlSeconds, refreshTtlSeconds } = this.config.tokens;
    const now = Date.now();
    await this.tokens.insert({
      userId: user.id,
      accessHash: digest(accessToken),
      refreshHash: digest(refreshToken),
      accessExpiresAt: new Date(now + accessTtlSeconds * 1000),
      refreshExpiresAt: new Date(now + refreshTtlSeconds * 1000),
      revokedAt: null,
    });

    return {
      accessToken,
      refreshToken,
      expiresIn: accessTtlSeconds,
      refreshExpiresIn: refreshTtlSeconds,
    };
  }

  async verifyAccess(accessToken: string): Promise<VerifiedToken> {
    const hash = digest(accessToken);
    const key = hash.toString('base64');
    const cached = this.verified.get(key);
    if (cached !== undefined) {
      await this.assertDomainUsable(cached.user.jid);

      return cached;
    }
    const row = await this.tokens.findOne({
      where: { accessHash: hash },
      relations: { user: true },
    });
    const now = Date.now();
    if (row?.user === undefined || row.revokedAt !== null || row.accessExpiresAt.getTime() <= now) {
      throw new AppError('invalid-token');
    }
    await this.assertDomainUsable(row.user.jid);
    const verified = {
      user: { id: row.user.id, jid: row.user.jid, credentialVersion: row.user.credentialVersion },
      tokenId: row.id,
    };
    this.verified.set(
      key,
      verified,
      Math.min(VERIFIED_TTL_MS, row.accessExpiresAt.getTime() - now),
      verified.user.jid,
    );

    return verified;
  }

  async refresh(refreshToken: string): Promise<IssuedTokens> {
    const row = await this.tokens.findOne({
      where: { refreshHash: digest(refreshToken) },
      relations: { user: true },
    });
    if (row?.user === undefined || row.refreshExpiresAt.getTime() <= Date.now()) {
      throw new AppError('invalid-token');
    }
    if (row.revokedAt !== null) {
      await this.revokeAllOf(row.user);
      throw new AppError('invalid-token', {
        detail: 'the refresh token was already used; every token of the user is revoked',
      });
    }
    // Only one of two concurrent refreshes with the same token wins the update.
    const result = await this.tokens.update(
      { id: row.id, revokedAt: IsNull() },
      { revokedAt: new Date() },
    );
    if (result.affected === 0) {
      throw new AppError('invalid-token');
    }
    await this.announceRevoked([row]);

    return this.issue({
      id: row.user.id,
      jid: row.user.jid,
      credentialVersion: row.user.credentialVersion,
    });
  }

  /** Revokes the pair that `token` (access or refresh) belongs to. Unknown tokens are ignored (RFC 7009 section 2.2). */
  async revoke(token: string): Promise<void> {
    const hash = digest(token);
    const rows = await this.tokens.find({ where: [{ accessHash: hash }, { refreshHash: hash }] });
    if (rows.length === 0) {
      return;
    }
    await this.tokens.update({ id: In(rows.map((row) => row.id)) }, { revokedAt: new Date() });
    await this.announceRevoked(rows);
  }

  async revokeAllOf(user: Pick<UserEntity, 'id' | 'jid'> | UserRef): Promise<void> {
    await this.tokens
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()' })
      .where('user_id = :id AND revoked_at IS NULL', { id: user.id })
      .execute();
    await this.router.notifyAll({ kind: 'credentials-changed', jid: user.jid });
  }

  /** A disabled domain refuses its users; a removed one has no users, so their tokens are unknown. */
  private async assertDomainUsable(jid: string): Promise<void> {
    const enabled = await this.domains.isEnabled(jid.slice(jid.indexOf('@') + 1));
    if (enabled === undefined) {
      throw new AppError('invalid-token');
    }
    if (!enabled) {
      throw new AppError('domain-disabled');
    }
  }

  private async announceRevoked(rows: readonly TokenEntity[]): Promise<void> {
    await Promise.all(
      rows.map((row) =>
        this.router.notifyAll({
          kind: 'token-revoked',
          tokenHash: row.accessHash.toString('base64'),
        }),
      ),
    );
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
