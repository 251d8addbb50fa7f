import { createHash, createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  decodeScramCredential,
  deriveScramCredential,
  encodeScramCredential,
  type ScramHash,
} from '#src/accounts/scram.js';

/**
 * The exchanges of RFC 5802 section 5 (SHA-1) and RFC 7677 section 3
 * (SHA-256): from the stored keys alone a server must verify the client's
 * proof and produce the server signature the RFCs show.
 */
const VECTORS: {
  hash: ScramHash;
  salt: string;
  authMessage: string;
  proof: string;
  signature: string;
}[] = [
  {
    hash: 'sha1',
    salt: 'QSXCR+Q6sek8bf92',
    authMessage:
      'n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j',
    proof: 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    signature: 'rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
  {
    hash: 'sha256',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    authMessage:
      'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    signature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
];

describe('SCRAM credentials (RFC 5802, RFC 7677)', () => {
  it.each(VECTORS)(
    'derive keys that verify the RFC exchange for $hash',
    ({ hash, salt, authMessage, proof, signature }) => {
      const credential = decodeScramCredential(
        encodeScramCredential(
          deriveScramCredential('pencil', hash, Buffer.from(salt, 'base64'), 4096),
        ),
      );

      const clientSignature = createHmac(hash, credential.storedKey).update(authMessage).digest();
      const proofBytes = Buffer.from(proof, 'base64');
      const clientKey = Buffer.from(
        proofBytes.map((byte, index) => byte ^ clientSignature[index]!),
      );
      expect(createHash(hash).update(clientKey).digest()).toEqual(credential.storedKey);
      expect(createHmac(hash, credential.serverKey).update(authMessage).digest('base64')).toBe(
        signature,
      );
      expect(credential.iterations).toBe(4096);
    },
  );

  it('salts every credential afresh', () => {
    const first = deriveScramCredential('same password', 'sha256');
    const second = deriveScramCredential('same password', 'sha256');

    expect(first.salt).not.toEqual(second.salt);
    expect(first.storedKey).not.toEqual(second.storedKey);
  });
});
