import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

import forge from 'node-forge';

import type { AppConfig } from '#src/config/app-config.js';

export interface TlsCredentials {
  readonly cert: string;
  readonly key: string;
  /** `tls-server-end-point` data (RFC 5929 section 4.1), when the signature hash allows it. */
  readonly serverEndPoint?: Buffer;
  readonly generated: boolean;
}

/** Generated certificates by domain list, so test servers in one process share one key. */
const generatedCache = new Map<string, { cert: string; key: string }>();

/**
 * The certificate for STARTTLS and direct TLS: the configured PEM files, or
 * else a self-signed one for the served domains, generated in process (RSA
 * key from node:crypto, certificate built by node-forge) and, for the
 * embedded default, kept in DATA_DIR so that clients can pin it.
 */
export function loadTlsCredentials(config: AppConfig): TlsCredentials {
  if (config.xmpp.tls !== undefined) {
    const cert = readFileSync(config.xmpp.tls.certFile, 'utf8');
    const key = readFileSync(config.xmpp.tls.keyFile, 'utf8');

    return withEndPoint({ cert, key, generated: false });
  }
  const files =
    config.database.mode === 'embedded'
      ? { cert: join(config.dataDir, 'xmpp-cert.pem'), key: join(config.dataDir, 'xmpp-key.pem') }
      : undefined;
  if (files !== undefined && existsSync(files.cert) && existsSync(files.key)) {
    return withEndPoint({
      cert: readFileSync(files.cert, 'utf8'),
      key: readFileSync(files.key, 'utf8'),
      generated: true,
    });
  }
  const cacheKey = config.domains.join(',');
  let pair = generatedCache.get(cacheKey);
  if (pair === undefined) {
    pair = generateSelfSigned(config.domains);
    generatedCache.set(cacheKey, pair);
  }
  if (files !== undefined) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(files.key, pair.key, { mode: 0o600 });
    writeFileSync(files.cert, pair.cert);
  }

  return withEndPoint({ ...pair, generated: true });
}

function generateSelfSigned(domains: readonly string[]): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(
    publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  certificate.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = new Date();
  certificate.validity.notBefore = new Date(now.getTime() - 3600_000);
  certificate.validity.notAfter = new Date(now.getTime() + 365 * 86400_000);
  const subject = [{ name: 'commonName', value: domains[0] ?? 'localhost' }];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: domains.map((domain) => ({ type: 2, value: domain })) },
  ]);
  certificate.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());

  return { cert: forge.pki.certificateToPem(certificate), key: keyPem };
}

/** Signature algorithm OIDs by the hash RFC 5929 section 4.1 says to use (MD5 and SHA-1 become SHA-256). */
const END_POINT_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'sha256',
  '1.2.840.113549.1.1.5': 'sha256',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

function withEndPoint(credentials: Omit<TlsCredentials, 'serverEndPoint'>): TlsCredentials {
  const der = new X509Certificate(credentials.cert).raw;
  let oid: string | undefined;
  try {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, ... }, ... }
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
    const algorithm = (asn1.value as forge.asn1.Asn1[])[1];
    const oidNode = (algorithm?.value as forge.asn1.Asn1[] | undefined)?.[0];
    oid = typeof oidNode?.value === 'string' ? forge.asn1.derToOid(oidNode.value) : undefined;
  } catch {
    // An unreadable signature algorithm only means no tls-server-end-point binding.
    oid = undefined;
  }
  const hash = oid === undefined ? undefined : END_POINT_HASH[oid];

  return {
    ...credentials,
    ...(hash === undefined ? {} : { serverEndPoint: createHash(hash).update(der).digest() }),
  };
}

/** The channel bindings a TLS connection allows (RFC 9266 for TLS 1.3, RFC 5929 otherwise). */
export function channelBindingsOf(
  socket: TLSSocket,
  credentials: TlsCredentials,
): Map<string, Buffer> {
  const types = new Map<string, Buffer>();
  if (socket.getProtocol() === 'TLSv1.3') {
    types.set(
      'tls-exporter',
      socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
    );
  }
  if (credentials.serverEndPoint !== undefined) {
    types.set('tls-server-end-point', credentials.serverEndPoint);
  }

  return types;
}
