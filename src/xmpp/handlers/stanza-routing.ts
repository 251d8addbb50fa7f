import { Injectable } from '@nestjs/common';

import { RouterService } from '#src/routing/router.service.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';

/**
 * Stanzas that travel between XMPP resources as they are, rather than
 * through a domain service: IQs to a full JID and their answers, headlines
 * and errors (RFC 6121 section 8.5). Only XMPP sessions take them, on
 * whichever node holds them.
 */
@Injectable()
export class StanzaRouting {
  constructor(private readonly router: RouterService) {}

  /** Whether the user has an XMPP session with this resource on any node. */
  async isOnline(bare: string, resource: string): Promise<boolean> {
    const sessions = await this.router.sessionsOf(bare);

    return sessions.some(
      (session) => session.transport === 'xmpp' && session.resource === resource,
    );
  }

  /** To one resource, or to every available resource with a non-negative priority. */
  async route(bare: string, stanza: XmlElement, resource?: string): Promise<void> {
    await this.router.deliver(bare, {
      event: 'xmpp:stanza',
      data: resource === undefined ? { stanza } : { stanza, resource },
    });
  }
}
