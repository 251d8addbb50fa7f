import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { deriveScramCredential, type ScramHash } from '#src/accounts/scram.js';
import { decoyCredential, SaslFailure, ScramExchange } from '#src/xmpp/sasl/scram.js';

const BINDING = Buffer.from('0123456789abcdef0123456789abcdef');
const bindings = { types: new Map([['tls-exporter', BINDING]]) };

/** A SCRAM client as RFC 5802 section 3 defines it, to drive the server side. */
function clientFinal(
  hash: ScramHash,
  password: string,
  gs2: string,
  clientFirstBare: string,
  serverFirst: string,
  options: { nonce?: string; binding?: Buffer } = {},
): string {
  const attributes = Object.fromEntries(
    serverFirst.split(',').map((part) => [part[0], part.slice(2)]),
  ) as Record<string, string>;
  const salted = pbkdf2Sync(
    password,
    Buffer.from(attributes.s!, 'base64'),
    Number(attributes.i),
    hash === 'sha1' ? 20 : 32,
    hash,
  );
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const channel = Buffer.concat([Buffer.from(gs2), options.binding ?? Buffer.alloc(0)]);
  const withoutProof = `c=${channel.toString('base64')},r=${options.nonce ?? attributes.r}`;
  const signature = createHmac(hash, storedKey)
    .update(`${clientFirstBare},${serverFirst},${withoutProof}`)
    .digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));

  return `${withoutProof},p=${proof.toString('base64')}`;
}

function run(
  hash: ScramHash,
  options: {
    plus?: boolean;
    gs2?: string;
    password?: string;
    nonce?: string;
    binding?: Buffer;
    offeredPlus?: boolean;
  } = {},
): string {
  const credential = deriveScramCredential('right password', hash);
  const exchange = new ScramExchange(
    hash,
    options.plus ?? false,
    bindings,
    options.offeredPlus ?? true,
  );
  const gs2 = options.gs2 ?? (options.plus === true ? 'p=tls-exporter,,' : 'n,,');
  const bare = 'n=alice,r=clientnonce123';
  exchange.start(`${gs2}${bare}`);
  const serverFirst = exchange.challenge(credential);

  return exchange.finish(
    clientFinal(hash, options.password ?? 'right password', gs2, bare, serverFirst, {
      ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
      ...(options.binding === undefined ? {} : { binding: options.binding }),
    }),
  );
}

function failure(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error: unknown) {
    if (error instanceof SaslFailure) {
      return `${error.condition}: ${error.message}`;
    }
    throw error;
  }

  return undefined;
}

describe('SCRAM server side over stored keys', () => {
  it.each(['sha1', 'sha256'] as const)('accepts the right password with SCRAM-%s', (hash) => {
    expect(run(hash)).toMatch(/^v=[A-Za-z0-9+/]+=*$/);
  });

  it('accepts -PLUS with the connection’s tls-exporter data', () => {
    expect(run('sha256', { plus: true, binding: BINDING })).toMatch(/^v=/);
  });

  it('refuses a wrong password', () => {
    expect(failure(() => run('sha256', { password: 'wrong' }))).toBe('not-authorized: wrong proof');
  });

  it('refuses a client-final nonce that is not the combined one', () => {
    expect(failure(() => run('sha256', { nonce: 'clientnonce123' }))).toBe(
      'not-authorized: nonce mismatch',
    );
  });

  it('refuses -PLUS with binding data from another connection', () => {
    expect(failure(() => run('sha256', { plus: true, binding: Buffer.alloc(32) }))).toBe(
      'not-authorized: channel binding mismatch',
    );
  });

  it('refuses -PLUS whose final message leaves the binding data out', () => {
    expect(failure(() => run('sha256', { plus: true }))).toBe(
      'not-authorized: channel binding mismatch',
    );
  });

  it('refuses the y flag when -PLUS was offered (a downgrade) and accepts it when not', () => {
    expect(failure(() => run('sha1', { gs2: 'y,,' }))).toBe(
      'not-authorized: channel binding downgrade',
    );
    expect(run('sha1', { gs2: 'y,,', offeredPlus: false })).toMatch(/^v=/);
  });

  it('refuses a GS2 header that differs between the first and final messages', () => {
    const credential = deriveScramCredential('right password', 'sha256');
    const exchange = new ScramExchange('sha256', false, bindings, true);
    exchange.start('n,,n=alice,r=abc');
    const serverFirst = exchange.challenge(credential);
    const final = clientFinal(
      'sha256',
      'right password',
      'n,a=alice,',
      'n=alice,r=abc',
      serverFirst,
    );

    expect(failure(() => exchange.finish(final))).toBe('not-authorized: channel binding mismatch');
  });

  it.each([
    ['no GS2 header', 'n=alice,r=abc'],
    ['p= without -PLUS', 'p=tls-exporter,,n=alice,r=abc'],
    ['an unknown binding type', 'p=tls-unique,,n=alice,r=abc'],
    ['a bad saslname escape', 'n,,n=al=ice,r=abc'],
    ['a mandatory extension', 'n,,m=ext,n=alice,r=abc'],
    ['no nonce', 'n,,n=alice'],
  ])('refuses a client-first message with %s', (_name, message) => {
    const plus = message.startsWith('p=tls-unique');
    const exchange = new ScramExchange('sha256', plus, bindings, true);

    expect(failure(() => exchange.start(message))).toMatch(/^malformed-request/);
  });

  it('refuses a final message without the proof last', () => {
    const exchange = new ScramExchange('sha256', false, bindings, true);
    exchange.start('n,,n=alice,r=abc');
    exchange.challenge(deriveScramCredential('x', 'sha256'));

    expect(failure(() => exchange.finish('c=biws,r=abc'))).toMatch(/^malformed-request/);
  });

  it('gives an unknown user a stable salt, so asking twice looks like a real account', () => {
    const secret = Buffer.alloc(32, 7);
    const first = decoyCredential(secret, 'sha256', 'ghost@example.org');
    const second = decoyCredential(secret, 'sha256', 'ghost@example.org');

    expect(first.salt.equals(second.salt)).toBe(true);
    expect(first.iterations).toBe(4096);
    expect(decoyCredential(secret, 'sha256', 'other@example.org').salt.equals(first.salt)).toBe(
      false,
    );
  });
});
