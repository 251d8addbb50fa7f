import { Injectable, OnModuleInit } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { TypingService } from '#src/presence/typing.service.js';
import { CHAT_STATES, type ChatState } from '#src/presence/presence-view.js';
import { localAddress } from '#src/xmpp/handlers/addressing.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { MessageExtensions } from '#src/xmpp/handlers/message-extensions.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * Messages (RFC 6121 section 8).
 *
 * A message with a body goes through MessagesService.send like a REST one,
 * whatever its type but groupchat and error: stored in both archives, then
 * delivered to every session of the recipient on any transport (XMPP
 * sessions take it when available with a non-negative priority, section
 * 8.5.2.1). The archive keeps conversations between bare JIDs, so a message
 * to a full JID is handled as one to the bare JID (section 8.5.3.2.1 allows
 * it for chat and normal when the resource is gone; here always). Bodiless
 * chat states (XEP-0085) go through TypingService; corrections,
 * retractions, markers, receipts and carbons hints are MessageExtensions'.
 */
@Injectable()
export class ImHandlers implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly messages: MessagesService,
    private readonly typing: TypingService,
    private readonly domains: DomainsService,
    private readonly extensions: MessageExtensions,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['server'], NS.chatStates);
    this.registry.registerStanza('message', (session, stanza) => this.message(session, stanza));
  }

  private async message(session: XmppSession, stanza: XmlElement): Promise<void> {
    const type = stanza.attr('type') ?? 'normal';
    if (type === 'error') {
      return;
    }
    const to = stanza.attr('to');
    const recipient = to === undefined ? session.jid : (await localAddress(this.domains, to)).bare;
    if (type === 'groupchat') {
      // Section 8.5.2.1.1: groupchat to a user is refused; rooms come in part two.
      throw new StanzaError('service-unavailable', 'no room at this address');
    }
    this.extensions.refuseCarbons(stanza);
    if (await this.extensions.operation(session, stanza, recipient)) {
      return;
    }
    const body = stanza.childText('body', NS.client);
    try {
      if (body === undefined) {
        await this.extensions.mark(session, stanza);
        await this.chatState(session, stanza, recipient);

        return;
      }
      const thread = stanza.childText('thread', NS.client)?.trim();
      const originId = stanza.child('origin-id', NS.stanzaId)?.attr('id');
      await this.messages.send({
        sender: session.user,
        to: recipient,
        body,
        source: 'client',
        senderSession: session.id,
        ...(this.extensions.noCopies(stanza) ? { noCopies: true } : {}),
        ...(thread === undefined || thread === '' ? {} : { thread: thread.slice(0, 256) }),
        ...(originId === undefined || originId === '' ? {} : { clientId: originId.slice(0, 128) }),
      });
    } catch (error: unknown) {
      throw toStanzaError(error);
    }
  }

  /** Chat states reach the peer's live sessions on any transport, never stored. */
  private async chatState(session: XmppSession, stanza: XmlElement, to: string): Promise<void> {
    const state = stanza
      .elements()
      .find((child) => child.ns === NS.chatStates && CHAT_STATES.includes(child.name as never));
    if (state === undefined || to === session.jid) {
      return;
    }
    await this.typing.notify(session.user, to, state.name as ChatState);
  }
}
