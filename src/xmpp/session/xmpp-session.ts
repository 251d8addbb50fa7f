import type { UserRef } from '#src/accounts/users.service.js';
import type { ContactView } from '#src/contacts/contact-view.js';
import type { MessageView } from '#src/messaging/message-view.js';
import type { PresenceView, ResourcePresence } from '#src/presence/presence-view.js';
import type { Delivery, XmppOrigin } from '#src/routing/server-events.js';
import {
  receivesBareMessages,
  type LocalSession,
  type SessionPresence,
} from '#src/routing/session.js';
import { inboxPush } from '#src/xmpp/handlers/inbox-stanzas.js';
import { CSI_MAX_HELD, CsiBuffer } from '#src/xmpp/session/csi-buffer.js';
import { carbonOf, renderExtension } from '#src/xmpp/session/ext-render.js';
import type { StreamCondition } from '#src/xmpp/stream/errors.js';
import type { StreamManagement } from '#src/xmpp/stream/stream-management.js';
import { el, XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** What a bound session needs of its stream. */
export interface SessionStream {
  send(element: XmlElement): void;
  fail(condition: StreamCondition, text?: string): void;
  pipeline(work: Promise<void>): Promise<void>;
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
  /** Set by the presence handler: since the resource receives messages to the bare JID. */
  receivingSince?: number;
  /** As the registry has it; read by the router when the session attaches. */
  presence: SessionPresence = NOT_AVAILABLE;
  /** XEP-0280 carbons asked for. */
  carbons = false;
  /** Asked for the roster: an "interested resource" that gets roster pushes (RFC 6121 section 2.1.6). */
  rosterRequested = false;
  /** Listed the inbox (urn:relay:inbox:0): gets its changes pushed. */
  inboxRequested = false;
  /** Asked for the blocklist: gets blocklist pushes (XEP-0191 section 3.3). */
  blocklistRequested = false;
  /** Present while the client says it is inactive (XEP-0352): what waits for it to be active. */
  private csi?: CsiBuffer;
  /** Addresses sent directed presence, told when the session goes (RFC 6121 section 4.6.3). */
  private directedTo?: Set<string>;
  /** Room events for this session, set once it joins a room (XEP-0045, src/xmpp/muc). */
  roomEvents?: (session: XmppSession, delivery: Delivery) => void;
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

  get domain(): string {
    return this.jid.slice(this.jid.indexOf('@') + 1);
  }

  /** Sent initial presence and not yet unavailable (RFC 6121 section 4.2). */
  get available(): boolean {
    return this.presence.available !== false;
  }

  /** Whether a message to the bare JID reaches this resource (RFC 6121 section 8.5.2.1). */
  get receivesBareMessages(): boolean {
    return receivesBareMessages(this);
  }

  /** Notes directed presence to a bare JID: available (it is told when the session goes) or not. */
  noteDirected(bare: string, available: boolean): void {
    if (available) {
      (this.directedTo ??= new Set()).add(bare);
    } else {
      this.directedTo?.delete(bare);
    }
  }

  /** The addresses sent directed available presence, forgotten as they are handed out. */
  takeDirected(): string[] {
    const targets = [...(this.directedTo ?? [])];
    this.directedTo = undefined;

    return targets;
  }

  markUnavailable(): void {
    this.presence = NOT_AVAILABLE;
    this.seen = undefined;
  }

  send(element: XmlElement): void {
    if (this.csi?.hold(element) === true) {
      if (this.csi.size > CSI_MAX_HELD) {
        this.flushHeld();
      }

      return;
    }
    this.stream.send(element);
  }

  /**
   * Work a stanza handler started and the stream need not wait for before
   * reading on (a message's archive commit): resolves at once unless too
   * much of it is pending, and the stanza counts as handled when it settles.
   */
  pipeline(work: Promise<void>): Promise<void> {
    return this.stream.pipeline(work);
  }

  /** XEP-0352: inactive holds back unimportant traffic; active sends what was held, in order. */
  setActive(active: boolean): void {
    if (active) {
      this.flushHeld();
      this.csi = undefined;
    } else {
      this.csi ??= new CsiBuffer();
    }
  }

  private flushHeld(): void {
    for (const element of this.csi?.drain() ?? []) {
      this.stream.send(element);
    }
  }

  /** XEP-0198: the stream that carries the session now (a resumed one, or the queue while it waits). */
  moveTo(stream: SessionStream): void {
    this.stream = stream;
  }

  deliver(delivery: Delivery): void {
    switch (delivery.event) {
      case 'message': {
        // Bare: the available resources with a non-negative priority; full: that resource, whatever
        // its priority (RFC 6121 sections 8.5.2.1 and 8.5.3.1).
        const addressed =
          delivery.resource === undefined
            ? this.receivesBareMessages
            : delivery.resource === this.resource;
        if (addressed) {
          this.send(
            renderMessage(delivery.data, this.jid, { to: this.fullJid, origin: delivery.origin }),
          );
        } else if (this.carbons && this.available && delivery.private !== true) {
          // XEP-0280 section 6: a copy for an interested resource the message itself skipped.
          const to =
            delivery.resource === undefined ? delivery.data.to : `${this.jid}/${delivery.resource}`;
          this.send(
            carbonOf(
              'received',
              this.jid,
              this.fullJid,
              renderMessage(delivery.data, this.jid, { to, origin: delivery.origin }),
            ),
          );
        }
        break;
      }
      case 'message:sent':
        // A copy of what another session of this user sent: a carbon (XEP-0280 section 6), if asked for.
        if (this.carbons && this.available) {
          this.send(this.carbon(delivery.data, delivery.origin));
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
              {
                from: fromOf(delivery.data.from, delivery.origin),
                to: this.fullJid,
                type: 'chat',
              },
              el(delivery.data.state, NS.chatStates),
            ),
          );
        }
        break;
      case 'xmpp:stanza':
        if (
          delivery.data.resource === undefined
            ? this.receivesBareMessages
            : delivery.data.resource === this.resource
        ) {
          this.send(XmlElement.from(delivery.data.stanza));
        }
        break;
      case 'inbox':
        if (this.inboxRequested) {
          this.send(inboxPush(delivery.data, this.domain, this.fullJid));
        }
        break;
      case 'room:message':
      case 'room:member':
      case 'room:updated':
      case 'room:destroyed':
        this.roomEvents?.(this, delivery);
        break;
      default:
        // Corrections, retractions, markers and blocklist pushes; reactions, rooms and inbox changes have none here.
        renderExtension(this, delivery);
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
      const key = presenceKey(resource);
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

  /**
   * The answer to a probe (RFC 6121 section 4.3.2): every available resource
   * of the contact, changed or not, or `unavailable` from the bare JID when
   * none is.
   */
  answerProbe(view: PresenceView): void {
    if (view.resources.length === 0) {
      this.send(
        el('presence', NS.client, { from: view.jid, to: this.fullJid, type: 'unavailable' }),
      );

      return;
    }
    // Forgotten, so every resource counts as changed.
    this.seen?.delete(view.jid);
    this.renderPresence(view);
  }

  /** A roster push (RFC 6121 section 2.1.6), to a resource that asked for the roster. */
  private rosterPush(item: XmlElement): void {
    if (this.rosterRequested) {
      this.pushIq(el('query', NS.roster, {}, item));
    }
  }

  /** A server-initiated IQ set to this resource. */
  pushIq(payload: XmlElement): void {
    this.pushCounter += 1;
    this.send(
      el(
        'iq',
        NS.client,
        { type: 'set', id: `push-${this.pushCounter}`, to: this.fullJid },
        payload,
      ),
    );
  }

  /** The sent message as its sending client had it: its own id and origin-id (XEP-0359), when it gave one. */
  private carbon(view: MessageView, origin: XmppOrigin | undefined): XmlElement {
    const message = renderMessage(view, this.jid, { origin });
    if (view.client_id !== undefined) {
      message.attrs.id = view.client_id;
      message.append(el('origin-id', NS.stanzaId, { id: view.client_id }));
    }

    return carbonOf('sent', this.jid, this.fullJid, message);
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

/** What a resource's presence stanza says, to tell whether it changed. */
function presenceKey(resource: ResourcePresence): string {
  const extensions = resource.extensions;

  return `${resource.show}\n${resource.status ?? ''}${extensions === undefined ? '' : `\n${JSON.stringify(extensions)}`}`;
}

/** One resource's presence; `online` is no `<show/>` (RFC 6121 section 4.7.2.1). */
export function presenceStanza(jid: string, resource: ResourcePresence, to: string): XmlElement {
  return el(
    'presence',
    NS.client,
    { from: `${jid}/${resource.resource}`, to },
    resource.show === 'online' ? undefined : el('show', NS.client, {}, resource.show),
    resource.status === undefined ? undefined : el('status', NS.client, {}, resource.status),
    ...(resource.extensions ?? []).map((child) => XmlElement.from(child)),
  );
}

/** The sender's address: its full JID when an XMPP session sent it (RFC 6120 section 8.1.2.1). */
function fromOf(bare: string, origin: XmppOrigin | undefined): string {
  return origin === undefined ? bare : `${bare}/${origin.resource}`;
}

/** How a message of the archive is rendered, beyond what the archive keeps. */
export interface RenderOptions {
  /** The addressee; the view's `to` by default. */
  readonly to?: string;
  /** Marked as delayed (XEP-0203): offline messages. */
  readonly delay?: boolean;
  /** Live, what the XMPP sender's stanza said that the archive does not keep. */
  readonly origin?: XmppOrigin;
}

/**
 * A message of the archive as a stanza: the archive id is both the stanza's
 * id and its XEP-0359 stanza-id, assigned by the owner's bare JID. Live, a
 * message an XMPP session sent comes from its full JID, with its type.
 */
export function renderMessage(
  view: MessageView,
  owner: string,
  { to = view.to, delay, origin }: RenderOptions = {},
): XmlElement {
  return el(
    'message',
    NS.client,
    {
      from: fromOf(view.from, origin),
      to,
      type: origin?.normal === true ? 'normal' : 'chat',
      id: view.id,
    },
    el('body', NS.client, {}, view.body),
    view.thread === undefined ? undefined : el('thread', NS.client, {}, view.thread),
    el('stanza-id', NS.stanzaId, { id: view.id, by: owner }),
    // Every message takes markers and receipts, which the inbox counts by (XEP-0333, XEP-0184).
    view.direction === 'in' ? el('markable', NS.chatMarkers) : undefined,
    view.direction === 'in' ? el('request', NS.receipts) : undefined,
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
