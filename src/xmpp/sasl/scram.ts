import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { ScramCredential, ScramHash } from '#src/accounts/scram.js';

/** SASL failure conditions (RFC 6120 section 6.5). */
export type SaslCondition =
  | 'aborted'
  | 'account-disabled'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export class SaslFailure extends Error {
  constructor(
    readonly condition: SaslCondition,
    message: string = condition,
  ) {
    super(message);
  }
}

/** What the TLS layer offers for channel binding, by RFC 5929 / RFC 9266 type name. */
export interface ChannelBindings {
  readonly types: ReadonlyMap<string, Buffer>;
}

export interface ClientFirst {
  /** The authentication identity, unescaped (RFC 5802 section 5.1, `n=`). */
  readonly username: string;
  readonly authzid?: string;
}

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * The server side of one SCRAM exchange (RFC 5802, RFC 7677), -PLUS
 * variants included, against stored keys: no key stretching per login.
 *
 * Every part of the client's final message is checked: the channel-binding
 * attribute must repeat the GS2 header of the first message byte for byte,
 * followed by the binding data of this TLS connection when one was asked
 * for; the nonce must be the combined one; the proof must come last.
 */
export class ScramExchange {
  private gs2Header = '';
  private clientFirstBare = '';
  private nonce = '';
  private serverFirst = '';
  private credential?: ScramCredential;
  private bindingData?: Buffer;

  constructor(
    readonly hash: ScramHash,
    /** True for SCRAM-*-PLUS. */
    readonly plus: boolean,
    private readonly bindings: ChannelBindings,
    /** Whether this server offered -PLUS variants on this stream (for the `y` flag). */
    private readonly offeredPlus: boolean,
  ) {}

  /** Parses client-first-message (RFC 5802 section 7). */
  start(message: string): ClientFirst {
    const gs2 = /^(n|y|p=([A-Za-z0-9.-]+)),(a=([^,]*))?,/.exec(message);
    if (gs2 === null) {
      throw new SaslFailure('malformed-request', 'bad GS2 header');
    }
    const [header, flag, cbName, , authzid] = gs2;
    if (flag === 'y' && this.offeredPlus) {
      // The client supports binding and believes we do not: a downgrade (RFC 5802 section 6).
      throw new SaslFailure('not-authorized', 'channel binding downgrade');
    }
    if (this.plus !== (cbName !== undefined)) {
      throw new SaslFailure(
        'malformed-request',
        this.plus ? '-PLUS needs p=<binding type>' : 'p= needs a -PLUS mechanism',
      );
    }
    if (cbName !== undefined) {
      this.bindingData = this.bindings.types.get(cbName);
      if (this.bindingData === undefined) {
        throw new SaslFailure('malformed-request', `channel binding ${cbName} is not available`);
      }
    }
    this.gs2Header = header!;
    this.clientFirstBare = message.slice(header.length);
    const attributes = parseAttributes(this.clientFirstBare);
    if (attributes[0]?.[0] === 'm') {
      throw new SaslFailure('malformed-request', 'mandatory extensions are not supported');
    }
    if (attributes[0]?.[0] !== 'n' || attributes[1]?.[0] !== 'r') {
      throw new SaslFailure('malformed-request', 'client-first-message needs n= and r=');
    }
    const username = unescapeSaslName(attributes[0][1]);
    const clientNonce = attributes[1][1];
    if (!PRINTABLE.test(clientNonce)) {
      throw new SaslFailure('malformed-request', 'bad nonce');
    }
    this.nonce = clientNonce + randomBytes(18).toString('base64');

    return {
      username,
      ...(authzid === undefined || authzid === '' ? {} : { authzid: unescapeSaslName(authzid) }),
    };
  }

  /** server-first-message for this credential (a decoy one for unknown users). */
  challenge(credential: ScramCredential): string {
    this.credential = credential;
    this.serverFirst = `r=${this.nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;

    return this.serverFirst;
  }

  /** Checks client-final-message; returns server-final-message (`v=...`) or throws. */
  finish(message: string): string {
    const credential = this.credential;
    if (credential === undefined) {
      throw new SaslFailure('malformed-request', 'no exchange in progress');
    }
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt === -1) {
      throw new SaslFailure('malformed-request', 'client-final-message needs p= last');
    }
    const withoutProof = message.slice(0, proofAt);
    const attributes = parseAttributes(withoutProof);
    if (attributes[0]?.[0] !== 'c' || attributes[1]?.[0] !== 'r') {
      throw new SaslFailure('malformed-request', 'client-final-message needs c= and r=');
    }
    const expectedBinding = Buffer.concat([
      Buffer.from(this.gs2Header, 'utf8'),
      this.bindingData ?? Buffer.alloc(0),
    ]).toString('base64');
    if (attributes[0][1] !== expectedBinding) {
      throw new SaslFailure('not-authorized', 'channel binding mismatch');
    }
    if (attributes[1][1] !== this.nonce) {
      throw new SaslFailure('not-authorized', 'nonce mismatch');
    }
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = createHmac(this.hash, credential.storedKey)
      .update(authMessage)
      .digest();
    if (proof.length !== clientSignature.length) {
      throw new SaslFailure('not-authorized', 'wrong proof');
    }
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) {
      clientKey[i] = proof[i]! ^ clientSignature[i]!;
    }
    const storedKey = createHash(this.hash).update(clientKey).digest();
    if (!timingSafeEqual(storedKey, credential.storedKey)) {
      throw new SaslFailure('not-authorized', 'wrong proof');
    }
    const serverSignature = createHmac(this.hash, credential.serverKey)
      .update(authMessage)
      .digest();

    return `v=${serverSignature.toString('base64')}`;
  }
}

/** `a=b,c=d` into pairs; a malformed attribute is a malformed request. */
function parseAttributes(text: string): [string, string][] {
  return text.split(',').map((part) => {
    if (!/^[A-Za-z]=/.test(part)) {
      throw new SaslFailure('malformed-request', 'malformed attribute');
    }

    return [part[0]!, part.slice(2)];
  });
}

/** RFC 5802 section 5.1: `=2C` is a comma, `=3D` an equals sign; any other `=` is malformed. */
export function unescapeSaslName(name: string): string {
  if (/=(?!2C|3D)/.test(name) || name === '') {
    throw new SaslFailure('malformed-request', 'malformed saslname');
  }

  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * A credential for a user that does not exist: salt and iteration count
 * stable per name, so that asking twice looks like a real account, and a
 * stored key nobody has, so that the proof always fails.
 */
export function decoyCredential(
  secret: Buffer,
  hash: ScramHash,
  username: string,
): ScramCredential {
  const keyLength = hash === 'sha1' ? 20 : 32;

  return {
    iterations: 4096,
    salt: createHmac('sha256', secret).update(`${hash}\0${username}`).digest().subarray(0, 16),
    storedKey: randomBytes(keyLength),
    serverKey: randomBytes(keyLength),
  };
}
