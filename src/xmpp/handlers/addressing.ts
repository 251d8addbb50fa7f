import type { DomainsService } from '#src/accounts/domains.service.js';
import { JidError, parseJid, type Jid } from '#src/common/jid.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';

/** A stanza's `to` on a domain served here, with its bare form; stanza errors otherwise. */
export interface LocalAddress {
  readonly jid: Jid;
  readonly bare: string;
}

export async function localAddress(domains: DomainsService, to: string): Promise<LocalAddress> {
  let jid: Jid;
  try {
    jid = parseJid(to);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new StanzaError('jid-malformed', error.reason);
    }
    throw error;
  }
  if ((await domains.isEnabled(jid.domain)) !== true) {
    // No server-to-server in this gateway.
    throw new StanzaError('remote-server-not-found');
  }
  if (jid.local === '') {
    throw new StanzaError('service-unavailable');
  }

  return { jid, bare: `${jid.local}@${jid.domain}` };
}
