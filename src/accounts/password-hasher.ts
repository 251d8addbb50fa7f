import { Algorithm, hash, verify } from '@node-rs/argon2';
import { Injectable } from '@nestjs/common';

import { deriveScramCredential, encodeScramCredential } from '#src/accounts/scram.js';

export interface StoredCredentials {
  readonly passwordHash: string;
  readonly scramSha1: string;
  readonly scramSha256: string;
}

/** argon2id for HTTP logins, plus the SCRAM keys the XMPP gateway will need, derived once here. */
@Injectable()
export class PasswordHasher {
  async derive(password: string): Promise<StoredCredentials> {
    return {
      passwordHash: await hash(password, { algorithm: Algorithm.Argon2id }),
      scramSha1: encodeScramCredential(deriveScramCredential(password, 'sha1')),
      scramSha256: encodeScramCredential(deriveScramCredential(password, 'sha256')),
    };
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      // A malformed stored hash verifies nothing.
      return false;
    }
  }
}
