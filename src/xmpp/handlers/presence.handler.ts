import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { RosterService } from '#src/contacts/roster.service.js';
import {
  SubscriptionsService,
  type SubscriptionAction,
} from '#src/contacts/subscriptions.service.js';
import type { SubscriptionStanza } from '#src/contacts/subscription-state.js';
import type { PresenceView, ResourcePresence } from '#src/presence/presence-view.js';
import { aggregate } from '#src/presence/presence-view.js';
import { PresenceService } from '#src/presence/presence.service.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Availability, SessionPresence } from '#src/routing/session.js';
import { localAddress } from '#src/xmpp/handlers/addressing.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { OfflineDelivery } from '#src/xmpp/handlers/offline-delivery.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/** RFC 6121 section 3: the presence types that are subscription requests and answers. */
const SUBSCRIPTION_ACTIONS: Record<SubscriptionStanza, SubscriptionAction> = {
  subscribe: 'invite',
  subscribed: 'accept',
  unsubscribe: 'cancel',
  unsubscribed: 'decline',
};

const SHOWS: Record<string, Availability> = {
  chat: 'online',
  away: 'away',
  dnd: 'dnd',
  xa: 'xa',
};

/** At most this much of a presence is passed on beyond its show and status. */
const MAX_EXTENSIONS = 4096;

/** The status length the REST API accepts (SessionPresenceDto). */
const MAX_STATUS = 1024;

/**
 * Presence (RFC 6121 sections 3 and 4) through the same services as REST
 * and socket.io: a session's availability lives in the session registry
 * and is broadcast by PresenceService to the user's sessions and
 * subscribers; subscription stanzas are the contacts service's actions,
 * run through the one RFC 6121 Appendix A state machine.
 */
@Injectable()
export class PresenceHandler implements OnModuleInit {
  private readonly logger = new Logger('XmppPresence');

  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly gateway: XmppGateway,
    private readonly presence: PresenceService,
    private readonly subscriptions: SubscriptionsService,
    private readonly roster: RosterService,
    private readonly blocking: BlockingService,
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly router: RouterService,
    private readonly offline: OfflineDelivery,
  ) {}

  onModuleInit(): void {
    this.registry.registerStanza('presence', (session, stanza) => this.handle(session, stanza));
    this.gateway.onSessionEnd((session, firstUnacknowledged) => {
      this.endDirected(session).catch((error: unknown) =>
        this.logger.warn({ err: error }, 'directed unavailable failed'),
      );
      if (firstUnacknowledged !== undefined) {
        void this.offline.unacknowledged(session, firstUnacknowledged);
      }
    });
  }

  private async handle(session: XmppSession, stanza: XmlElement): Promise<void> {
    const type = stanza.attr('type');
    const to = stanza.attr('to');
    if (type === 'error') {
      return;
    }
    if (type !== undefined && type in SUBSCRIPTION_ACTIONS) {
      await this.subscription(session, type as SubscriptionStanza, to);

      return;
    }
    if (type === 'probe') {
      await this.probe(session, to);

      return;
    }
    if (type !== undefined && type !== 'unavailable') {
      throw new StanzaError('bad-request', `no presence of type ${type}`);
    }
    const own = type === 'unavailable' ? undefined : parsePresence(stanza);
    if (to === undefined) {
      await this.broadcast(session, own);
    } else {
      await this.directed(session, to, own);
    }
  }

  /**
   * Presence without a `to`: the session's own, for its user's sessions and
   * subscribers. The first available one is initial presence (section 4.2):
   * the contacts' presence, waiting requests and offline messages follow.
   */
  private async broadcast(session: XmppSession, own: SessionPresence | undefined): Promise<void> {
    const initial = own !== undefined && !session.available;
    const receivingSince = session.receivingSince;
    if (own === undefined) {
      session.markUnavailable();
      await this.endDirected(session);
    } else {
      session.presence = own;
    }
    session.receivingSince = session.receivesBareMessages
      ? (receivingSince ?? Date.now())
      : undefined;
    let view: PresenceView;
    try {
      view = await this.presence.set(session.user, session.presence, session.id);
    } catch (error: unknown) {
      if (error instanceof AppError && error.code === 'session-not-found') {
        // Gone meanwhile: the disconnect already told everyone.
        return;
      }
      throw error;
    }
    const receiving = session.receivesBareMessages;
    if (
      receivingSince !== undefined &&
      !receiving &&
      (view.show === 'offline' || !(await this.offline.anotherReceives(session)))
    ) {
      // Unavailable or of negative priority, and no other session of the user gets messages to
      // the bare JID (RFC 6121 section 8.5.2.1): what comes now is offline.
      await this.offline.noneAvailable(session, receivingSince);
    }
    if (initial) {
      const items = await this.roster.list(session.user);
      const watched = items
        .filter((item) => item.subscription === 'to' || item.subscription === 'both')
        .map((item) => item.jid);
      for (const view of await this.presence.contactsOf(session.user, watched)) {
        session.renderPresence(view);
      }
      for (const item of items) {
        if (item.ask === 'in' || item.ask === 'both') {
          // Section 3.1.3: a request that waits is delivered once the contact is available.
          session.send(el('presence', NS.client, { from: item.jid, type: 'subscribe' }));
        }
      }
      if (receiving) {
        // XEP-0160 section 2: a resource of negative priority gets no offline messages.
        await this.offline.deliver(session);
      }
    } else if (receivingSince === undefined && receiving) {
      // Its priority rose to 0 or more: what waits offline is its now, if no session took it.
      await this.offline.deliver(session);
    }
  }

  /** Section 4.6: presence to one address; it hears `unavailable` when the session goes. */
  private async directed(
    session: XmppSession,
    to: string,
    own: SessionPresence | undefined,
  ): Promise<void> {
    const target = await localAddress(this.domains, to);
    if (target.bare === session.jid) {
      return;
    }
    const recipient = await this.users.findByJid(target.bare);
    if (recipient === undefined) {
      // Section 8.5.1: presence to no one is ignored.
      return;
    }
    if (await this.blocking.isBlocked(session.user.id, target.bare)) {
      throw toStanzaError(
        new AppError('recipient-blocked', { detail: `you block ${target.bare}` }),
      );
    }
    if (await this.blocking.isBlocked(recipient.id, session.jid)) {
      return;
    }
    session.noteDirected(target.bare, own !== undefined);
    const view = await this.viewWith(session, own);
    await this.router.deliver(target.bare, { event: 'presence', data: view });
  }

  /** The user's presence with this session's part as given (left out when undefined). */
  private async viewWith(
    session: XmppSession,
    own: SessionPresence | undefined,
  ): Promise<PresenceView> {
    const current = await this.presence.viewOf(session.jid);
    const others = current.resources.filter((item) => item.resource !== session.resource);
    const mine: ResourcePresence[] =
      own === undefined
        ? []
        : [
            {
              resource: session.resource,
              show: own.show,
              ...(own.status === undefined ? {} : { status: own.status }),
              ...(own.extensions === undefined ? {} : { extensions: own.extensions }),
            },
          ];

    return aggregate(session.jid, [...others, ...mine]);
  }

  private async endDirected(session: XmppSession): Promise<void> {
    const targets = session.takeDirected();
    if (targets.length === 0) {
      return;
    }
    const view = await this.viewWith(session, undefined);
    await Promise.all(
      targets.map((jid) => this.router.deliver(jid, { event: 'presence', data: view })),
    );
  }

  /** Section 4.3: a client's probe is answered only for what the user may see. */
  private async probe(session: XmppSession, to: string | undefined): Promise<void> {
    const bare = to === undefined ? session.jid : (await localAddress(this.domains, to)).bare;
    if (bare === session.jid) {
      session.answerProbe(await this.presence.viewOf(bare));

      return;
    }
    const view = (await this.presence.contactsOf(session.user)).find((item) => item.jid === bare);
    if (view !== undefined) {
      session.answerProbe(view);
    }
  }

  /** Section 3: subscribe, subscribed, unsubscribe and unsubscribed are the contacts service's actions. */
  private async subscription(
    session: XmppSession,
    type: SubscriptionStanza,
    to: string | undefined,
  ): Promise<void> {
    if (to === undefined) {
      throw new StanzaError('bad-request', `presence of type ${type} needs a to`);
    }
    const target = await localAddress(this.domains, to);
    try {
      await this.subscriptions.act(session.user, target.bare, SUBSCRIPTION_ACTIONS[type]);
    } catch (error: unknown) {
      if (error instanceof AppError && error.code === 'validation') {
        // A subscription to oneself changes nothing.
        return;
      }
      throw toStanzaError(error);
    }
  }
}

/**
 * Show, status and priority of an available presence (RFC 6121 section
 * 4.7.2), and the rest of it as extensions for XMPP receivers, up to
 * MAX_EXTENSIONS bytes.
 */
function parsePresence(stanza: XmlElement): SessionPresence {
  const showText = stanza.childText('show', NS.client)?.trim();
  const show = showText === undefined ? 'online' : SHOWS[showText];
  if (show === undefined) {
    throw new StanzaError('bad-request', `<show/> is chat, away, dnd or xa`);
  }
  const status = stanza.childText('status', NS.client);
  if (status !== undefined && status.length > MAX_STATUS) {
    throw new StanzaError('not-acceptable', `a status is at most ${MAX_STATUS} characters`);
  }

  const priority = priorityOf(stanza);
  const extensions = presenceExtensions(stanza, showText, priority);

  return {
    show,
    ...(status === undefined || status === '' ? {} : { status }),
    ...(priority === 0 ? {} : { priority }),
    ...(extensions === undefined ? {} : { extensions }),
  };
}

/**
 * The children other contacts' XMPP clients should see as sent: all but the
 * show and status REST has too, except `chat`, which REST shows as online,
 * and the priority as the server reads it (section 4.7.2.3). A child the
 * server could not write again as well-formed XML (an attribute prefix
 * whose declaration the parsed tree does not keep) is left out; too many
 * bytes of them are dropped whole, as a client sends them again with its
 * next presence.
 */
function presenceExtensions(
  stanza: XmlElement,
  showText: string | undefined,
  priority: number,
): XmlElement[] | undefined {
  const kept: XmlElement[] = [];
  let bytes = 0;
  for (const child of stanza.elements()) {
    if (child.ns === NS.client) {
      if (
        child.name === 'status' ||
        child.name === 'priority' ||
        (child.name === 'show' && showText !== 'chat')
      ) {
        continue;
      }
    } else if (!declaresAllPrefixes(child)) {
      continue;
    }
    bytes += Buffer.byteLength(child.toXml(NS.client));
    kept.push(child);
  }
  if (priority !== 0) {
    kept.push(el('priority', NS.client, {}, String(priority)));
  }

  return kept.length === 0 || bytes > MAX_EXTENSIONS ? undefined : kept;
}

/** Whether no attribute in the tree has a prefix other than `xml:`, which needs no declaration. */
function declaresAllPrefixes(element: XmlElement): boolean {
  return (
    Object.keys(element.attrs).every((name) => !name.includes(':') || name.startsWith('xml:')) &&
    element.elements().every(declaresAllPrefixes)
  );
}

/** Section 4.7.2.3: an integer from -128 to 127, 0 when absent or invalid. */
function priorityOf(stanza: XmlElement): number {
  const text = stanza.childText('priority', NS.client)?.trim();
  if (text === undefined || !/^[+-]?\d{1,3}$/.test(text)) {
    return 0;
  }
  const priority = Number.parseInt(text, 10);

  return priority >= -128 && priority <= 127 ? priority : 0;
}
