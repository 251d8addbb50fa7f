import { Injectable, OnModuleInit } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { TypingService } from '#src/presence/typing.service.js';
import { CHAT_STATES, type ChatState } from '#src/presence/presence-view.js';
import { localAddress } from '#src/xmpp/handlers/addressing.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { StanzaRouting } from '#src/xmpp/handlers/stanza-routing.js';
import { MessageExtensions } from '#src/xmpp/handlers/message-extensions.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * Messages (RFC 6121 section 8).
 *
 * A chat or normal message with a body goes through MessagesService like a
 * REST one: stored in both archives, then delivered to every session of the
 * recipient on any transport. The archive keeps conversations between bare
 * JIDs; to a full JID whose resource is online, XMPP delivers it to that
 * resource only (others may take a carbon), and to a resource that is gone
 * as to the bare JID (section 8.5.3.2.1); bare, it reaches the XMPP
 * resources that are available with a non-negative priority (8.5.2.1).
 * Headlines are live only; errors go back to the resource they answer.
 * Bodiless chat states (XEP-0085) go through TypingService; corrections,
 * retractions, markers, receipts and carbons hints are MessageExtensions'. The archive commit is pipelined: the stream reads on while it
 * runs, and a failure is still answered with an error.
 */
@Injectable()
export class ImHandlers implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly messages: MessagesService,
    private readonly typing: TypingService,
    private readonly domains: DomainsService,
    private readonly users: UsersService,
    private readonly blocking: BlockingService,
    private readonly routing: StanzaRouting,
    private readonly extensions: MessageExtensions,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['server'], NS.chatStates);
    this.registry.registerStanza('message', (session, stanza) => this.message(session, stanza));
  }

  private async message(session: XmppSession, stanza: XmlElement): Promise<void> {
    const type = stanza.attr('type') ?? 'normal';
    const to = stanza.attr('to');
    const found = to === undefined ? undefined : localAddress(this.domains, to);
    const address = found instanceof Promise ? await found : found;
    const recipient = address?.bare ?? session.jid;
    const resource = address?.jid.resource;
    if (type === 'error') {
      // An error goes back to the resource it answers, as it is; never answered (RFC 6120 section 8.3.1).
      if (resource !== undefined) {
        await this.routing.route(recipient, stanza, resource);
      }

      return;
    }
    if (type === 'groupchat') {
      // Section 8.5.2.1.1: groupchat to a user is refused; rooms come in part two.
      throw new StanzaError('service-unavailable', 'no room at this address');
    }
    this.extensions.refuseCarbons(stanza);
    if (type === 'headline') {
      await this.headline(session, stanza, recipient, resource);

      return;
    }
    const operation = this.extensions.operation(session, stanza, recipient);
    if (operation !== false && (await operation)) {
      return;
    }
    // An empty body is no body, as REST refuses one: nothing to store or show.
    const body = firstBody(stanza);
    try {
      if (body === undefined) {
        await this.extensions.mark(session, stanza);
        await this.chatState(session, stanza, recipient);

        return;
      }
      const thread = stanza.childText('thread', NS.client)?.trim();
      const originId = stanza.child('origin-id', NS.stanzaId)?.attr('id');
      // Section 8.5.3.2.1: a chat or normal message to a resource that is gone goes to the bare JID.
      const online = resource !== undefined && (await this.routing.isOnline(recipient, resource));
      const { done } = await this.messages.enqueue({
        sender: session.user,
        to: recipient,
        body,
        source: 'client',
        senderSession: session.id,
        origin:
          type === 'chat'
            ? { resource: session.resource }
            : { resource: session.resource, normal: true },
        ...(this.extensions.noCopies(stanza) ? { noCopies: true } : {}),
        ...(thread === undefined || thread === '' ? {} : { thread: thread.slice(0, 256) }),
        ...(originId === undefined || originId === '' ? {} : { clientId: originId.slice(0, 128) }),
        ...(online ? { recipientResource: resource } : {}),
      });
      // The commit is awaited beside the next stanzas; a failure still answers this one.
      await session.pipeline(
        done.then(
          () => undefined,
          (error: unknown) => {
            const reply = toStanzaError(error);
            const stanzaError =
              reply instanceof StanzaError ? reply : new StanzaError('internal-server-error');
            session.send(stanzaError.reply(stanza, session.domain));
          },
        ),
      );
    } catch (error: unknown) {
      throw toStanzaError(error);
    }
  }

  /**
   * Headlines are live only (sections 8.5.2.1.2, 8.5.3.2.1): never stored,
   * to every available resource with a non-negative priority or to the one
   * addressed, and silently dropped when nobody is there to read them.
   */
  private async headline(
    session: XmppSession,
    stanza: XmlElement,
    to: string,
    resource: string | undefined,
  ): Promise<void> {
    const recipient = await this.users.findByJid(to);
    if (recipient === undefined) {
      return;
    }
    try {
      if ((await this.blocking.checkSend(session.user, recipient)) === 'drop') {
        return;
      }
    } catch (error: unknown) {
      throw toStanzaError(error);
    }
    await this.routing.route(to, stanza, resource);
  }

  /** Chat states reach the peer's live sessions on any transport, never stored. */
  private async chatState(session: XmppSession, stanza: XmlElement, to: string): Promise<void> {
    const state = stanza
      .elements()
      .find((child) => child.ns === NS.chatStates && CHAT_STATES.includes(child.name as never));
    if (state === undefined || to === session.jid) {
      return;
    }
    await this.typing.notify(session.user, to, state.name as ChatState, session.resource);
  }
}

/**
 * The message's text: its first non-empty body (RFC 6121 section 5.2.3
 * allows one per language; the archive keeps one).
 */
function firstBody(stanza: XmlElement): string | undefined {
  for (const child of stanza.elements()) {
    if (child.name === 'body' && child.ns === NS.client) {
      const text = child.text();
      if (text !== '') {
        return text;
      }
    }
  }

  return undefined;
}
