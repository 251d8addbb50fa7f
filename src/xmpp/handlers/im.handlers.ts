import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { JidError, parseJid } from '#src/common/jid.js';
import { InboxService } from '#src/inbox/inbox.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { renderMessage, type XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/** At most this many conversations, and messages of each, are replayed at initial presence. */
const OFFLINE_CONVERSATIONS = 50;
const OFFLINE_PER_CONVERSATION = 100;

/**
 * Messages and the user's own presence (RFC 6121 sections 4 and 8).
 *
 * A message with a body goes through MessagesService.send like a REST one:
 * stored in both archives, then delivered to every session of the
 * recipient on any transport. Bodiless messages (chat states, receipts)
 * have nothing to store and are dropped until part two routes them.
 */
@Injectable()
export class ImHandlers implements OnModuleInit {
  private readonly logger = new Logger('XmppIm');

  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly messages: MessagesService,
    private readonly domains: DomainsService,
    private readonly inbox: InboxService,
    private readonly archive: ArchiveService,
    private readonly gateway: XmppGateway,
  ) {}

  onModuleInit(): void {
    this.registry.registerStanza('message', (session, stanza) => this.message(session, stanza));
    this.registry.registerStanza('presence', (session, stanza) => this.presence(session, stanza));
  }

  private async message(session: XmppSession, stanza: XmlElement): Promise<void> {
    const type = stanza.attr('type') ?? 'normal';
    if (type === 'error') {
      return;
    }
    const to = await this.recipientOf(session, stanza.attr('to'));
    if (type === 'groupchat') {
      // RFC 6121 section 8.5.2.1.1: groupchat to a user is refused; rooms come in part two.
      throw new StanzaError('service-unavailable', 'no room at this address');
    }
    const body = stanza.childText('body', NS.client);
    if (body === undefined) {
      return;
    }
    const thread = stanza.childText('thread', NS.client)?.trim();
    const originId = stanza.child('origin-id', NS.stanzaId)?.attr('id');
    try {
      await this.messages.send({
        sender: session.user,
        to,
        body,
        source: 'client',
        senderSession: session.id,
        ...(thread === undefined || thread === '' ? {} : { thread: thread.slice(0, 256) }),
        ...(originId === undefined || originId === '' ? {} : { clientId: originId.slice(0, 128) }),
      });
    } catch (error: unknown) {
      throw toStanzaError(error);
    }
  }

  private async recipientOf(session: XmppSession, to: string | undefined): Promise<string> {
    if (to === undefined) {
      return session.jid;
    }
    try {
      const jid = parseJid(to);
      if ((await this.domains.isEnabled(jid.domain)) !== true) {
        throw new StanzaError('remote-server-not-found');
      }
      if (jid.local === '') {
        throw new StanzaError('service-unavailable');
      }

      return `${jid.local}@${jid.domain}`;
    } catch (error: unknown) {
      if (error instanceof JidError) {
        throw new StanzaError('jid-malformed', error.reason);
      }
      throw error;
    }
  }

  /**
   * Presence without a `to` is the user's own broadcast: to the user's
   * other resources here (subscribers come with the contacts service). The
   * first available presence is initial presence: offline messages follow.
   */
  private async presence(session: XmppSession, stanza: XmlElement): Promise<void> {
    const type = stanza.attr('type');
    if (stanza.attr('to') !== undefined || (type !== undefined && type !== 'unavailable')) {
      // Directed presence, probes and subscriptions are the contacts service's (next branch).
      return;
    }
    const initial = type === undefined && !session.available;
    const priority = Number.parseInt(stanza.childText('priority', NS.client) ?? '0', 10);
    session.priority =
      Number.isInteger(priority) && priority >= -128 && priority <= 127 ? priority : 0;
    if (type === 'unavailable') {
      this.gateway.broadcastToOwn(session, stanza);
      session.available = false;

      return;
    }
    session.available = true;
    session.lastPresence = stanza;
    this.gateway.broadcastToOwn(session, stanza);
    if (initial) {
      // The other resources' presence, as a server would send it to a subscriber (the user itself).
      for (const other of this.gateway.sessionsOf(session.jid)) {
        if (other !== session && other.available && other.lastPresence !== undefined) {
          const presence = other.lastPresence;
          session.send(
            el(
              'presence',
              NS.client,
              { ...presence.attrs, from: other.fullJid, to: session.fullJid },
              ...presence.children,
            ),
          );
        }
      }
      await this.deliverOffline(session);
    }
  }

  /**
   * Offline messages, with the archive as the only store: what the inbox
   * counts as unread in each conversation, oldest first, marked with
   * XEP-0203 delay. A message stays "offline" until a client marks it
   * displayed (XEP-0333 over REST or socket.io); stanza-ids let clients
   * drop the ones they already have.
   */
  private async deliverOffline(session: XmppSession): Promise<void> {
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
          { peer: entry.id },
        );
        for (const view of views) {
          if (view.direction === 'in') {
            session.send(renderMessage(view, session.jid, session.fullJid, true));
          }
        }
      }
    } catch (error: unknown) {
      this.logger.error({ err: error, jid: session.jid }, 'offline delivery failed');
    }
  }
}

function toStanzaError(error: unknown): unknown {
  if (!(error instanceof AppError)) {
    return error;
  }
  switch (error.code) {
    case 'user-not-found':
      return new StanzaError('service-unavailable');
    case 'invalid-jid':
      return new StanzaError('jid-malformed', error.message);
    case 'message-too-large':
      return new StanzaError('policy-violation', error.message);
    case 'message-not-found':
    case 'idempotency-key-reused':
      return new StanzaError('not-acceptable', error.message);
    default:
      return new StanzaError('undefined-condition', error.message);
  }
}
