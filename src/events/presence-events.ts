import { Injectable, Logger } from '@nestjs/common';

import { OutboxRelay } from '#src/events/outbox-relay.service.js';
import { RouterService, type PresenceChange } from '#src/routing/router.service.js';

/** presence.online when a user's first session here opens, presence.offline when the last closes. */
@Injectable()
export class PresenceEvents {
  private readonly logger = new Logger('PresenceEvents');

  constructor(relay: OutboxRelay, router: RouterService) {
    router.onPresence((change: PresenceChange) => {
      const domain = change.jid.slice(change.jid.indexOf('@') + 1);
      const event = change.online
        ? {
            type: 'presence.online' as const,
            domain,
            data: { jid: change.jid, resource: change.resource, transport: change.transport },
          }
        : { type: 'presence.offline' as const, domain, data: { jid: change.jid } };
      relay
        .publishTransient(event)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'presence event dropped'));
    });
  }
}
