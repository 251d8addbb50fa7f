import type { UserRef } from '#src/accounts/users.service.js';
import type { ContactView } from '#src/contacts/contact-view.js';
import type { MessageView } from '#src/messaging/message-view.js';
import type { PresenceView, ResourcePresence } from '#src/presence/presence-view.js';
import type { Delivery } from '#src/routing/server-events.js';
import type { LocalSession, SessionPresence } from '#src/routing/session.js';
import type { StreamCondition } from '#src/xmpp/stream/errors.js';
import type { StreamManagement } from '#src/xmpp/stream/stream-management.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** What a bound session needs of its stream. */
export interface SessionStream {
  send(element: XmlElement): void;
  fail(condition: StreamCondition, text?: string): void;
}

/** Connected but not yet available: RFC 6121 section 4.2 waits for initial presence. */
const NOT_AVAILABLE: SessionPresence = { show: 'online', available: false };

/**
 * One bound XMPP resource (RFC 6120 section 7), registered with the router
 * like a socket.io session: the router's deliveries are rendered here as
 * stanzas; event types XMPP has no rendering for are left out.
 */
export class XmppSession implements LocalSession {
  readonly transport = 'xmpp' as const;
  readonly jid: string;
  readonly connectedAt = Date.now();
  /** As the registry has it; read by the router when the session attaches. */
  presence: SessionPresence = NOT_AVAILABLE;
  priority = 0;
  /** XEP-0280 carbons asked for. */
  carbons = false;
  /** Asked for the roster: an "interested resource" that gets roster pushes (RFC 6121 section 2.1.6). */
  rosterRequested = false;
  /** Addresses sent directed presence, told when the session goes (RFC 6121 section 4.6.3). */
  readonly directedTo = new Set<string>();
  /** The presence rendered to this client per contact and resource, to send changes and unavailable. */
  private seen?: Map<string, Map<string, string>>;
  private pushCounter = 0;
  /** XEP-0198 state once the client enabled stream management; it moves with the session on resumption. */
  sm?: StreamManagement;

  constructor(
    private stream: SessionStream,
    readonly id: string,
    readonly user: UserRef,
    readonly resource: string,
    readonly node: string,
    readonly address: string,
  ) {
    this.jid = user.jid;
  }

  get fullJid(): string {
    return `${this.jid}/${this.resource}`;
  }

  /** Sent initial presence and not yet unavailable (RFC 6121 section 4.2). */
  get available(): boolean {
    return this.presence.available !== false;
  }

  /** Whether a message to the bare JID reaches this resource (RFC 6121 section 8.5.2.1). */
  get receivesBareMessages(): boolean {
    return this.available && this.priority >= 0;
  }

  markUnavailable(): void {
    this.presence = NOT_AVAILABLE;
    this.seen = undefined;
  }

  send(element: XmlElement): void {
    this.stream.send(element);
  }

  /** XEP-0198: the stream that carries the session now (a resumed one, or the queue while it waits). */
  moveTo(stream: SessionStream): void {
    this.stream = stream;
  }

  deliver(delivery: Delivery): void {
    switch (delivery.event) {
      case 'message':
        if (this.receivesBareMessages) {
          this.send(renderMessage(delivery.data, this.jid, this.fullJid));
        }
        break;
      case 'message:sent':
        // A copy of what another session of this user sent: a carbon (XEP-0280 section 6), if asked for.
        if (this.carbons && this.available) {
          this.send(this.carbon(delivery.data));
        }
        break;
      case 'contact':
        this.rosterPush(rosterItem(delivery.data));
        break;
      case 'contact:removed':
        this.rosterPush(el('item', NS.roster, { jid: delivery.data.jid, subscription: 'remove' }));
        break;
      case 'subscription':
        // Requests reach available resources; waiting ones are offered again at initial presence.
        if (this.available) {
          this.send(
            el('presence', NS.client, {
              from: delivery.data.from,
              to: this.jid,
              type: delivery.data.type,
            }),
          );
        }
        break;
      case 'presence':
        this.renderPresence(delivery.data);
        break;
      case 'typing':
        if (this.available) {
          this.send(
            el(
              'message',
              NS.client,
              { from: delivery.data.from, to: this.fullJid, type: 'chat' },
              el(delivery.data.state, NS.chatStates),
            ),
          );
        }
        break;
      default:
        // Edits, reactions, markers, rooms and inbox changes have XMPP renderings in part two.
        break;
    }
  }

  close(reason: string): void {
    this.stream.fail(conditionFor(reason), reason);
  }

  /**
   * A user's presence as the registry aggregates it, as one stanza per
   * resource that changed, and `unavailable` for each resource that went
   * (RFC 6121 section 4.4.2, 4.5.2). Only available resources hear presence.
   */
  renderPresence(view: PresenceView): void {
    if (!this.available) {
      return;
    }
    this.seen ??= new Map();
    const before = this.seen.get(view.jid);
    const now = new Map<string, string>();
    for (const resource of view.resources) {
      const key = `${resource.show}\n${resource.status ?? ''}`;
      now.set(resource.resource, key);
      if (before?.get(resource.resource) !== key) {
        this.send(presenceStanza(view.jid, resource, this.fullJid));
      }
    }
    for (const resource of before?.keys() ?? []) {
      if (!now.has(resource)) {
        this.send(
          el('presence', NS.client, {
            from: `${view.jid}/${resource}`,
            to: this.fullJid,
            type: 'unavailable',
          }),
        );
      }
    }
    if (now.size === 0) {
      this.seen.delete(view.jid);
    } else {
      this.seen.set(view.jid, now);
    }
  }

  /** A roster push (RFC 6121 section 2.1.6), to a resource that asked for the roster. */
  private rosterPush(item: XmlElement): void {
    if (!this.rosterRequested) {
      return;
    }
    this.pushCounter += 1;
    this.send(
      el(
        'iq',
        NS.client,
        { type: 'set', id: `push-${this.pushCounter}`, to: this.fullJid },
        el('query', NS.roster, {}, item),
      ),
    );
  }

  private carbon(view: MessageView): XmlElement {
    return el(
      'message',
      NS.client,
      { from: this.jid, to: this.fullJid, type: 'chat' },
      el('sent', NS.carbons, {}, el('forwarded', NS.forward, {}, renderMessage(view, this.jid))),
    );
  }
}

/** A roster item as RFC 6121 section 2.1.2 writes it. */
export function rosterItem(view: ContactView): XmlElement {
  return el(
    'item',
    NS.roster,
    {
      jid: view.jid,
      name: view.name,
      subscription: view.subscription,
      ask: view.ask === 'out' || view.ask === 'both' ? 'subscribe' : undefined,
    },
    ...view.groups.map((group) => el('group', NS.roster, {}, group)),
  );
}

/** One resource's presence; `online` is no `<show/>` (RFC 6121 section 4.7.2.1). */
export function presenceStanza(jid: string, resource: ResourcePresence, to: string): XmlElement {
  return el(
    'presence',
    NS.client,
    { from: `${jid}/${resource.resource}`, to },
    resource.show === 'online' ? undefined : el('show', NS.client, {}, resource.show),
    resource.status === undefined ? undefined : el('status', NS.client, {}, resource.status),
  );
}

/**
 * A message of the archive as a stanza: the archive id is both the stanza's
 * id and its XEP-0359 stanza-id, assigned by the owner's bare JID.
 */
export function renderMessage(
  view: MessageView,
  owner: string,
  to: string = view.to,
  delay?: boolean,
): XmlElement {
  return el(
    'message',
    NS.client,
    { from: view.from, to, type: 'chat', id: view.id },
    el('body', NS.client, {}, view.body),
    view.thread === undefined ? undefined : el('thread', NS.client, {}, view.thread),
    el('stanza-id', NS.stanzaId, { id: view.id, by: owner }),
    delay === true
      ? el('delay', NS.delay, {
          from: owner.slice(owner.indexOf('@') + 1),
          stamp: isoStamp(view.timestamp),
        })
      : undefined,
  );
}

export function isoStamp(ms: number): string {
  return new Date(ms).toISOString();
}

function conditionFor(reason: string): StreamCondition {
  if (reason === 'server shutting down') {
    return 'system-shutdown';
  }
  if (reason === 'resource conflict') {
    return 'conflict';
  }
  if (reason === 'credentials changed' || reason.startsWith('domain')) {
    return 'reset';
  }

  return 'policy-violation';
}
