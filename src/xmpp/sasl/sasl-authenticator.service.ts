import { randomBytes } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import type { ScramHash } from '#src/accounts/scram.js';
import { UserRef, UsersService } from '#src/accounts/users.service.js';
import { LoginThrottle } from '#src/auth/login-throttle.service.js';
import { PasswordAuthenticator } from '#src/auth/password-authenticator.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { JidError, normalizeLocal } from '#src/common/jid.js';
import {
  decoyCredential,
  SaslFailure,
  ScramExchange,
  type ChannelBindings,
} from '#src/xmpp/sasl/scram.js';

/** What a stream knows when a client authenticates. */
export interface SaslContext {
  /** The domain the stream was opened to. */
  readonly domain: string;
  readonly address: string;
  readonly secure: boolean;
  readonly bindings: ChannelBindings;
}

/** One running SASL exchange; `step` takes the client's data and answers a challenge or finishes. */
export interface SaslMechanismRun {
  step(data: Buffer): Promise<{ challenge: string } | { success: UserRef; additional?: string }>;
}

const SCRAM: Record<string, { hash: ScramHash; plus: boolean }> = {
  'SCRAM-SHA-256-PLUS': { hash: 'sha256', plus: true },
  'SCRAM-SHA-256': { hash: 'sha256', plus: false },
  'SCRAM-SHA-1-PLUS': { hash: 'sha1', plus: true },
  'SCRAM-SHA-1': { hash: 'sha1', plus: false },
};

/**
 * SASL for XMPP streams against the accounts the REST API uses: SCRAM over
 * the stored keys, PLAIN over the password hash, with the same login
 * throttle as HTTP Basic. An unknown user gets a decoy SCRAM salt and the
 * same failure as a wrong password.
 */
@Injectable()
export class SaslAuthenticator {
  private readonly decoySecret = randomBytes(32);

  constructor(
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly throttle: LoginThrottle,
    private readonly passwords: PasswordAuthenticator,
  ) {}

  /** Mechanisms to offer, strongest first (RFC 6120 section 6.4.1). */
  mechanisms(context: SaslContext, allowInsecure: boolean): string[] {
    if (!context.secure && !allowInsecure) {
      return [];
    }
    const plus = context.bindings.types.size > 0;

    return [
      ...(plus ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS'] : []),
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      ...(context.secure || allowInsecure ? ['PLAIN'] : []),
    ];
  }

  begin(mechanism: string, context: SaslContext, offered: readonly string[]): SaslMechanismRun {
    if (!offered.includes(mechanism)) {
      throw new SaslFailure('invalid-mechanism', `${mechanism} is not offered`);
    }
    if (mechanism === 'PLAIN') {
      return { step: (data) => this.plain(data, context) };
    }
    const scram = SCRAM[mechanism]!;
    const exchange = new ScramExchange(
      scram.hash,
      scram.plus,
      context.bindings,
      offered.some((name) => name.endsWith('-PLUS')),
    );
    let user: UserRef | undefined;
    let jid = '';
    let round = 0;
    let failures: number | undefined;

    return {
      step: async (data) => {
        round += 1;
        const text = decodeUtf8(data);
        if (round === 1) {
          const first = exchange.start(text);
          jid = this.jidOf(first.username, context.domain);
          if (first.authzid !== undefined && first.authzid !== jid) {
            throw new SaslFailure('invalid-authzid');
          }
          failures = await this.assertAllowed(jid, context.address);
          const found = await this.users.scramCredentialsOf(jid, scram.hash);
          user = found?.user;

          return {
            challenge: exchange.challenge(
              found?.credential ?? decoyCredential(this.decoySecret, scram.hash, jid),
            ),
          };
        }
        if (round === 2) {
          let serverFinal: string;
          try {
            serverFinal = exchange.finish(text);
            if (user === undefined) {
              throw new SaslFailure('not-authorized');
            }
          } catch (error: unknown) {
            if (error instanceof SaslFailure && error.condition === 'not-authorized') {
              await this.throttle.recordFailure(jid, context.address);
            }
            throw error;
          }
          await this.assertDomainUsable(jid);
          await this.throttle.recordSuccess(jid, context.address, failures);

          return { success: user, additional: serverFinal };
        }
        throw new SaslFailure('malformed-request', 'the exchange is over');
      },
    };
  }

  /** RFC 4616: `[authzid] NUL authcid NUL passwd`. */
  private async plain(data: Buffer, context: SaslContext): Promise<{ success: UserRef }> {
    const parts = decodeUtf8(data).split('\0');
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') {
      throw new SaslFailure('malformed-request', 'PLAIN needs authzid NUL authcid NUL password');
    }
    const [authzid, authcid, password] = parts as [string, string, string];
    const jid = this.jidOf(authcid, context.domain);
    if (authzid !== '' && authzid !== jid) {
      throw new SaslFailure('invalid-authzid');
    }
    try {
      return { success: await this.passwords.authenticate(jid, password, context.address) };
    } catch (error: unknown) {
      throw toSaslFailure(error);
    }
  }

  /** A SASL username is the localpart; a bare JID of the stream's domain is taken too. */
  private jidOf(username: string, domain: string): string {
    const at = username.lastIndexOf('@');
    if (at !== -1 && username.slice(at + 1).toLowerCase() !== domain) {
      throw new SaslFailure('not-authorized');
    }
    try {
      return `${normalizeLocal(at === -1 ? username : username.slice(0, at))}@${domain}`;
    } catch (error: unknown) {
      if (error instanceof JidError) {
        throw new SaslFailure('not-authorized');
      }
      throw error;
    }
  }

  private async assertAllowed(jid: string, address: string): Promise<number> {
    try {
      return await this.throttle.assertAllowed(jid, address);
    } catch (error: unknown) {
      throw toSaslFailure(error);
    }
  }

  private async assertDomainUsable(jid: string): Promise<void> {
    const enabled = await this.domains.isEnabled(jid.slice(jid.indexOf('@') + 1));
    if (enabled !== true) {
      throw new SaslFailure(enabled === false ? 'account-disabled' : 'not-authorized');
    }
  }
}

function decodeUtf8(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch (error: unknown) {
    throw new SaslFailure('malformed-request', `not UTF-8: ${String(error)}`);
  }
}

function toSaslFailure(error: unknown): SaslFailure {
  if (error instanceof SaslFailure) {
    return error;
  }
  if (error instanceof AppError) {
    switch (error.code) {
      case 'too-many-attempts':
        return new SaslFailure('temporary-auth-failure', 'too many failed attempts');
      case 'domain-disabled':
        return new SaslFailure('account-disabled');
      case 'invalid-credentials':
        return new SaslFailure('not-authorized');
      default:
        break;
    }
  }
  throw error;
}
