import type { UserRef } from '#src/accounts/users.service.js';
import type { MessageView } from '#src/messaging/message-view.js';
import type { Delivery } from '#src/routing/server-events.js';
import type { LocalSession } from '#src/routing/session.js';
import type { StreamCondition } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** What a bound session needs of its stream. */
export interface SessionStream {
  send(element: XmlElement): void;
  fail(condition: StreamCondition, text?: string): void;
}

/**
 * One bound XMPP resource (RFC 6120 section 7), registered with the router
 * like a socket.io session: the router's deliveries are rendered here as
 * stanzas; event types XMPP has no rendering for are left out.
 */
export class XmppSession implements LocalSession {
  readonly transport = 'xmpp' as const;
  readonly jid: string;
  readonly connectedAt = Date.now();
  /** Sent initial presence and not yet unavailable (RFC 6121 section 4.2). */
  available = false;
  priority = 0;
  /** XEP-0280 carbons asked for. */
  carbons = false;
  /** The last presence stanza the client sent, for its other sessions. */
  lastPresence?: XmlElement;

  constructor(
    private readonly stream: SessionStream,
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

  send(element: XmlElement): void {
    this.stream.send(element);
  }

  deliver(delivery: Delivery): void {
    switch (delivery.event) {
      case 'message':
        this.send(renderMessage(delivery.data, this.jid, this.fullJid));
        break;
      case 'message:sent':
        // A copy of what another session of this user sent: a carbon (XEP-0280 section 6), if asked for.
        if (this.carbons) {
          this.send(
            el(
              'message',
              NS.client,
              { from: this.jid, to: this.fullJid, type: 'chat' },
              el(
                'sent',
                NS.carbons,
                {},
                el('forwarded', NS.forward, {}, renderMessage(delivery.data, this.jid)),
              ),
            ),
          );
        }
        break;
      default:
        // Edits, reactions, markers and inbox changes have XMPP renderings in part two.
        break;
    }
  }

  close(reason: string): void {
    this.stream.fail(conditionFor(reason), reason);
  }
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
