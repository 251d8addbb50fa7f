import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export type ScramHash = 'sha1' | 'sha256';

/** What a server keeps to run SCRAM without the password (RFC 5802 section 3). */
export interface ScramCredential {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** RFC 7677 section 4 asks for at least 4096 iterations. */
export const SCRAM_ITERATIONS = 4096;

export function deriveScramCredential(
  password: string,
  hash: ScramHash,
  salt = randomBytes(16),
  iterations = SCRAM_ITERATIONS,
): ScramCredential {
  const keyLength = hash === 'sha1' ? 20 : 32;
  // Hi(Normalize(password), salt, i), with Normalize approximated by NFKC (RFC 4013 maps to it).
  const saltedPassword = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, keyLength, hash);
  const clientKey = createHmac(hash, saltedPassword).update('Client Key').digest();

  return {
    iterations,
    salt,
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: createHmac(hash, saltedPassword).update('Server Key').digest(),
  };
}

export function encodeScramCredential(credential: ScramCredential): string {
  return [
    credential.iterations,
    credential.salt.toString('base64'),
    credential.storedKey.toString('base64'),
    credential.serverKey.toString('base64'),
  ].join(':');
}

export function decodeScramCredential(encoded: string): ScramCredential {
  const [iterations, salt, storedKey, serverKey] = encoded.split(':');
  if (
    iterations === undefined ||
    salt === undefined ||
    storedKey === undefined ||
    serverKey === undefined
  ) {
    throw new Error('malformed SCRAM credential');
  }

  return {
    iterations: Number.parseInt(iterations, 10),
    salt: Buffer.from(salt, 'base64'),
    storedKey: Buffer.from(storedKey, 'base64'),
    serverKey: Buffer.from(serverKey, 'base64'),
  };
}
