import { createHmac, randomBytes } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { PasswordHasher } from '#src/accounts/password-hasher.js';
import { UserRef, UsersService } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { JidError, normalizeUserJid } from '#src/common/jid.js';
import { TtlCache } from '#src/common/ttl-cache.js';
import { AppConfig } from '#src/config/app-config.js';
import { LoginThrottle } from '#src/auth/login-throttle.service.js';
import { RouterService } from '#src/routing/router.service.js';

/**
 * Checks `bare-jid:password` logins.
 *
 * A verified pair is remembered for a short while under an HMAC of the pair
 * with a key that never leaves this process, so Basic on every request costs
 * one hash, not an argon2 verification; a password change or deletion drops
 * the entries of that user on every node.
 */
@Injectable()
export class PasswordAuthenticator {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new TtlCache<UserRef>(100_000);
  /** A hash to verify against when the user does not exist, so both cases take as long. */
  private decoyHash?: Promise<string>;

  constructor(
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly config: AppConfig,
    router: RouterService,
  ) {
    router.onNotice((message) => {
      if (message.kind === 'credentials-changed') {
        this.verified.deleteTag(message.jid);
      }
    });
  }

  async authenticate(login: string, password: string, address: string): Promise<UserRef> {
    const jid = parseLogin(login);
    const key = createHmac('sha256', this.cacheKey)
      .update(jid)
      .update('\0')
      .update(password)
      .digest('base64');
    const cached = this.verified.get(key);
    if (cached !== undefined) {
      await this.assertDomainEnabled(jid);

      return cached;
    }
    const failures = await this.throttle.assertAllowed(jid, address);
    const user = await this.verify(jid, password);
    if (user === undefined) {
      await this.throttle.recordFailure(jid, address);
      throw new AppError('invalid-credentials');
    }
    await this.assertDomainEnabled(jid);
    await this.throttle.recordSuccess(jid, address, failures);
    this.verified.set(key, user, this.config.auth.cacheTtlSeconds * 1000, jid);

    return user;
  }

  private async verify(jid: string, password: string): Promise<UserRef | undefined> {
    const stored = await this.users.credentialsOf(jid);
    if (stored === undefined) {
      this.decoyHash ??= this.hasher
        .derive(randomBytes(16).toString('hex'))
        .then((credentials) => credentials.passwordHash);
      await this.hasher.verify(await this.decoyHash, password);

      return undefined;
    }
    if (!(await this.hasher.verify(stored.passwordHash, password))) {
      return undefined;
    }

    return { id: stored.id, jid: stored.jid, credentialVersion: stored.credentialVersion };
  }

  private async assertDomainEnabled(jid: string): Promise<void> {
    const enabled = await this.domains.isEnabled(jid.slice(jid.indexOf('@') + 1));
    if (enabled === undefined) {
      // Removed with its users since this login was remembered.
      throw new AppError('invalid-credentials');
    }
    if (!enabled) {
      throw new AppError('domain-disabled');
    }
  }
}

function parseLogin(login: string): string {
  try {
    return normalizeUserJid(login);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new AppError('invalid-credentials', { cause: error });
    }
    throw error;
  }
}
