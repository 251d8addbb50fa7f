import { Injectable, Logger } from '@nestjs/common';

import { InboxService } from '#src/inbox/inbox.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { renderMessage, type XmppSession } from '#src/xmpp/session/xmpp-session.js';

/** At most this many conversations, and messages of each, are replayed at initial presence. */
const OFFLINE_CONVERSATIONS = 50;
const OFFLINE_PER_CONVERSATION = 100;

/**
 * Offline messages, with the archive as the only store: what the inbox
 * counts as unread in each conversation, oldest first, marked with
 * XEP-0203 delay. A message stays "offline" until a client marks it
 * displayed (XEP-0333 over REST or socket.io); stanza-ids let clients
 * drop the ones they already have. The unread count is of received
 * messages only, so only those are read: the user's own replies in between
 * must not take their place. This is also where the messages a session never
 * acknowledged (XEP-0198) end up once it is gone.
 */
@Injectable()
export class OfflineDelivery {
  private readonly logger = new Logger('XmppOffline');

  constructor(
    private readonly inbox: InboxService,
    private readonly archive: ArchiveService,
  ) {}

  async deliver(session: XmppSession): Promise<void> {
    try {
      const entries = await this.inbox.list(session.user, {
        unread: true,
        type: 'chat',
        limit: OFFLINE_CONVERSATIONS,
      });
      for (const entry of entries.reverse()) {
        const views = await this.archive.page(
          session.user,
          { limit: Math.min(entry.unread, OFFLINE_PER_CONVERSATION) },
          { peer: entry.id, direction: 'in' },
        );
        for (const view of views) {
          if (view.retracted_at === undefined) {
            session.send(renderMessage(view, session.jid, session.fullJid, true));
          }
        }
      }
    } catch (error: unknown) {
      this.logger.error({ err: error, jid: session.jid }, 'offline delivery failed');
    }
  }
}
