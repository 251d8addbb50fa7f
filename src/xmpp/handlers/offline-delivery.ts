import { Injectable, Logger } from '@nestjs/common';

import { lowestIdAt, timestampOf } from '#src/common/ids.js';
import { InboxService } from '#src/inbox/inbox.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { OfflineMarks } from '#src/presence/offline-marks.service.js';
import { RouterService } from '#src/routing/router.service.js';
import { receivesBareMessages } from '#src/routing/session.js';
import { renderMessage, type XmppSession } from '#src/xmpp/session/xmpp-session.js';

/** At most this many conversations, and messages of each, are replayed at initial presence. */
const OFFLINE_CONVERSATIONS = 50;
const OFFLINE_PER_CONVERSATION = 100;

/**
 * Offline messages (XEP-0160), with the archive as the only store: the
 * received messages that reached no available session, from the user's
 * offline mark (OfflineMarks) on, and of those only the ones the inbox still
 * counts unread, oldest first, marked with XEP-0203 delay. The first
 * available session with a non-negative priority takes them, once; a message
 * delivered live, or displayed on another client meanwhile (XEP-0333 over
 * any transport), is not offered again. Messages a session never
 * acknowledged (XEP-0198) move the mark back to the first of them when it
 * ends. A mark taken by sessions that vanished without closing (their node
 * crashed) counts as minus infinity once no session of the user is left:
 * messages again rather than none. The unread count is of received messages
 * only, so only those are read: the user's own replies in between must not
 * take their place.
 */
@Injectable()
export class OfflineDelivery {
  private readonly logger = new Logger('XmppOffline');

  constructor(
    private readonly inbox: InboxService,
    private readonly archive: ArchiveService,
    private readonly marks: OfflineMarks,
    private readonly router: RouterService,
  ) {}

  /** The session's first available presence: what waits is its. */
  async deliver(session: XmppSession): Promise<void> {
    let since: number | undefined;
    try {
      since = await this.marks.take(session.user.id);
      if (since === undefined) {
        if (await this.anotherReceives(session)) {
          // Another session took them, or has been receiving all along.
          return;
        }
        // Taken, and no session left to close and set the mark again: the ones that took it
        // vanished with their node (a crash). Every unread message counts, as for a new account.
        since = -Infinity;
      }
      const entries = await this.inbox.list(session.user, {
        unread: true,
        type: 'chat',
        limit: OFFLINE_CONVERSATIONS,
      });
      const afterId = Number.isFinite(since) ? lowestIdAt(since) : undefined;
      for (const entry of entries.reverse()) {
        const views = await this.archive.page(
          session.user,
          { limit: Math.min(entry.unread, OFFLINE_PER_CONVERSATION) },
          { peer: entry.id, direction: 'in', ...(afterId === undefined ? {} : { afterId }) },
        );
        for (const view of views) {
          if (view.retracted_at === undefined) {
            session.send(renderMessage(view, session.jid, { to: session.fullJid, delay: true }));
          }
        }
      }
    } catch (error: unknown) {
      this.logger.error({ err: error, jid: session.jid }, 'offline delivery failed');
      if (since !== undefined) {
        // Offered again to the next session that asks.
        await this.marks.undeliveredSince(session.user.id, since).catch(() => undefined);
      }
    }
  }

  /** Whether another session of the user, on any node, gets messages to the bare JID. */
  async anotherReceives(session: XmppSession): Promise<boolean> {
    const sessions = await this.router.sessionsOf(session.jid);

    return sessions.some((other) => other.id !== session.id && receivesBareMessages(other));
  }

  /**
   * A session ends with messages it never acknowledged: from the first of
   * them on, the user's messages count as offline again.
   */
  async unacknowledged(session: XmppSession, firstMessageId: string): Promise<void> {
    try {
      await this.marks.undeliveredSince(session.user.id, timestampOf(firstMessageId));
    } catch (error: unknown) {
      this.logger.error({ err: error, jid: session.jid }, 'offline mark failed');
    }
  }

  /**
   * The user's last available session went unavailable (and stays
   * connected); it had received messages since `receivingSince`.
   */
  async noneAvailable(session: XmppSession, receivingSince: number | undefined): Promise<void> {
    await this.marks.stoppedReceiving(session.user.id, receivingSince);
  }
}
