import type { DomainsService } from '#src/accounts/domains.service.js';
import { JidError, parseJid, type Jid } from '#src/common/jid.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';

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
  let jid: Jid;
  try {
    jid = parseJid(to);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new StanzaError('jid-malformed', error.reason);
    }
    throw error;
  }
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
