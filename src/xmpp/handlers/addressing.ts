import type { DomainsService } from '#src/accounts/domains.service.js';
import { JidError, parseJid, type Jid } from '#src/common/jid.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';

/** A JID a client wrote in a stanza; a malformed one is `jid-malformed` (RFC 6120 section 8.3.3.8). */
export function stanzaJid(to: string): Jid {
  try {
    return parseJid(to);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new StanzaError('jid-malformed', error.reason);
    }
    throw error;
  }
}

/** An IQ result or error: the answer to a request, never answered itself (RFC 6120 section 8.2.3). */
export function isAnswer(iq: XmlElement): boolean {
  const type = iq.attr('type');

  return type === 'result' || type === 'error';
}

/**
 * The type and the one payload of an IQ get or set (RFC 6120 section
 * 8.2.3); anything else is `bad-request`.
 */
export function iqRequest(iq: XmlElement): { type: 'get' | 'set'; payload: XmlElement } {
  const type = iq.attr('type');
  if ((type !== 'get' && type !== 'set') || iq.attr('id') === undefined) {
    throw new StanzaError('bad-request', 'an IQ needs an id and type get or set');
  }
  const payloads = iq.elements();
  if (payloads.length !== 1) {
    throw new StanzaError('bad-request', 'an IQ get or set carries exactly one payload');
  }

  return { type, payload: payloads[0]! };
}

/** A stanza's `to` on a domain served here, with its bare form; stanza errors otherwise. */
export interface LocalAddress {
  readonly jid: Jid;
  readonly bare: string;
}

/**
 * The stanza's `to` as a local address. Answered at once while the domain
 * is known to be served (every message asks), else after the domain lookup.
 */
export function localAddress(
  domains: DomainsService,
  to: string,
): LocalAddress | Promise<LocalAddress> {
  const jid = stanzaJid(to);
  if (domains.knownEnabled(jid.domain)) {
    return addressOf(jid);
  }

  return domains.isEnabled(jid.domain).then((enabled) => {
    if (enabled !== true) {
      // No server-to-server in this gateway.
      throw new StanzaError('remote-server-not-found');
    }

    return addressOf(jid);
  });
}

function addressOf(jid: Jid): LocalAddress {
  if (jid.local === '') {
    throw new StanzaError('service-unavailable');
  }

  return { jid, bare: `${jid.local}@${jid.domain}` };
}
