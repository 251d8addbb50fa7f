import { setTimeout as sleep } from 'node:timers/promises';

import { Injectable } from '@nestjs/common';

import { AppError } from '#src/common/errors/problems.js';
import { AppConfig } from '#src/config/app-config.js';
import { TransientStore } from '#src/routing/transient-store.js';

/**
 * Slows down and then refuses repeated failed logins.
 *
 * Refusal is keyed on the account and the address together, plus the
 * address alone: an attacker hammering one account from one address is
 * locked out, while the real user logging in from another address is not.
 * Failures on the account from anywhere only add delay.
 */
@Injectable()
export class LoginThrottle {
  constructor(
    private readonly store: TransientStore,
    private readonly config: AppConfig,
  ) {}

  /**
   * Throws 429 with Retry-After while this account and address are locked
   * out; otherwise answers how many failures of this pair it counts.
   */
  async assertAllowed(account: string, address: string): Promise<number> {
    const { maxFailures, maxFailuresPerAddress } = this.config.auth;
    const [pair, fromAddress] = await Promise.all([
      this.store.get(pairKey(account, address)),
      this.store.get(addressKey(address)),
    ]);
    if (pair >= maxFailures) {
      throw new AppError('too-many-attempts', {
        retryAfter: Math.max(1, await this.store.ttl(pairKey(account, address))),
      });
    }
    if (fromAddress >= maxFailuresPerAddress) {
      throw new AppError('too-many-attempts', {
        retryAfter: Math.max(1, await this.store.ttl(addressKey(address))),
      });
    }

    return pair;
  }

  /** Records a failure and waits a little longer each time before the caller answers. */
  async recordFailure(account: string, address: string): Promise<void> {
    const ttl = this.config.auth.lockoutSeconds;
    const [, , onAccount] = await Promise.all([
      this.store.increment(pairKey(account, address), ttl),
      this.store.increment(addressKey(address), ttl),
      this.store.increment(accountKey(account), ttl),
    ]);
    await sleep(failureDelayMs(onAccount));
  }

  /**
   * Forgets the pair's failures; `knownFailures`, what `assertAllowed`
   * answered, 0 skips the round trip (a failure counted in between only
   * waits out its time).
   */
  async recordSuccess(account: string, address: string, knownFailures?: number): Promise<void> {
    if (knownFailures === 0) {
      return;
    }
    await this.store.delete(pairKey(account, address));
  }
}

/** 0 ms for the first failure, then doubling from 100 ms up to 2 s. */
export function failureDelayMs(failures: number): number {
  return failures <= 1 ? 0 : Math.min(2000, 100 * 2 ** (failures - 2));
}

function pairKey(account: string, address: string): string {
  return `login-fail:pair:${account}:${address}`;
}

function addressKey(address: string): string {
  return `login-fail:addr:${address}`;
}

function accountKey(account: string): string {
  return `login-fail:acct:${account}`;
}
