import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * Whether an HTTP transport's connection counts as encrypted: the HTTP
 * server has no TLS of its own, so a peer on loopback (a TLS-terminating
 * proxy on the same host, or local tests) or a trusted proxy saying https
 * is taken as TLS; anything else is not, and XMPP_REQUIRE_TLS then offers
 * it no SASL mechanism.
 */
export function isSecureRequest(request: IncomingMessage, trustProxy: boolean): boolean {
  if ((request.socket as Partial<TLSSocket>).encrypted === true) {
    return true;
  }
  if (trustProxy && request.headers['x-forwarded-proto'] === 'https') {
    return true;
  }
  const address = request.socket.remoteAddress ?? '';

  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
