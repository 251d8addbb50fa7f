import { randomBytes } from 'node:crypto';

import type { MarkerView, MessageView } from '#src/messaging/message-view.js';
import type { Delivery } from '#src/routing/server-events.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** XEP-0424 section 5: what a client without retraction shows. */
const RETRACTION_FALLBACK =
  '/me retracted a previous message, but it is unsupported by your client.';

/** A stanza id for what the server makes up (corrections, retractions, markers). */
export function freshId(): string {
  return randomBytes(9).toString('base64url');
}

/** The id an author's sessions know their own message by: the client's, else the server's. */
export function authorsId(view: { readonly id: string; readonly client_id?: string }): string {
  return view.client_id ?? view.id;
}

/** A message wrapped as a carbon (XEP-0280 section 6): `sent` for the user's own, `received` for a copy. */
export function carbonOf(
  kind: 'sent' | 'received',
  owner: string,
  to: string,
  message: XmlElement,
): XmlElement {
  return el(
    'message',
    NS.client,
    { from: owner, to, type: message.attr('type') ?? 'chat' },
    el(kind, NS.carbons, {}, el('forwarded', NS.forward, {}, message)),
  );
}

/** A correction (XEP-0308 section 3) of the message `replaces`, as `view` now reads. */
export function correctionStanza(view: MessageView, to: string, replaces: string): XmlElement {
  return el(
    'message',
    NS.client,
    { from: view.from, to, type: 'chat', id: freshId() },
    el('body', NS.client, {}, view.body),
    el('replace', NS.correction, { id: replaces }),
  );
}

/** A retraction (XEP-0424 section 4) with its fallback body, to keep in archives (XEP-0334 store). */
export function retractionStanza(from: string, to: string, retracts: string): XmlElement {
  return el(
    'message',
    NS.client,
    { from, to, type: 'chat', id: freshId() },
    el('retract', NS.retraction, { id: retracts }),
    el('fallback', NS.fallback, { for: NS.retraction }),
    el('body', NS.client, {}, RETRACTION_FALLBACK),
    el('store', NS.hints),
  );
}

/**
 * A chat marker (XEP-0333 section 4) from `from` to `to`; a received
 * marker is also a delivery receipt (XEP-0184 section 5), for clients that
 * asked for receipts rather than markers.
 */
export function markerStanza(view: MarkerView, from: string, to: string, id: string): XmlElement {
  return el(
    'message',
    NS.client,
    { from, to, type: 'chat', id: freshId() },
    el(view.type, NS.chatMarkers, { id }),
    view.type === 'received' ? el('received', NS.receipts, { id }) : undefined,
    el('store', NS.hints),
  );
}

/** A blocklist push (XEP-0191 sections 3.3 and 3.4). */
export function blockPush(kind: 'block' | 'unblock', jid: string): XmlElement {
  return el(kind, NS.blocking, {}, el('item', NS.blocking, { jid }));
}

/** The session as the renderings need it. */
interface RenderTarget {
  readonly jid: string;
  readonly fullJid: string;
  readonly carbons: boolean;
  readonly available: boolean;
  readonly blocklistRequested: boolean;
  send(element: XmlElement): void;
  pushIq(payload: XmlElement): void;
}

/**
 * The router's deliveries of the extensions as stanzas: corrections,
 * retractions and markers of one-to-one conversations (the peer's as they
 * are, the user's own from another session or REST as sent carbons), and
 * blocklist pushes. Room events are left to the group chat gateway.
 */
export function renderExtension(session: RenderTarget, delivery: Delivery): void {
  switch (delivery.event) {
    case 'message:edited':
      renderEdit(session, delivery.data);
      break;
    case 'message:retracted': {
      const { id, from, to } = delivery.data;
      if (from !== session.jid) {
        deliverLive(session, retractionStanza(from, session.fullJid, id));
      } else if (session.carbons && session.available) {
        session.send(
          carbonOf(
            'sent',
            session.jid,
            session.fullJid,
            retractionStanza(from, to, authorsId(delivery.data)),
          ),
        );
      }
      break;
    }
    case 'marker':
      renderMarker(session, delivery.data);
      break;
    case 'block':
    case 'block:removed':
      if (session.blocklistRequested) {
        session.pushIq(
          blockPush(delivery.event === 'block' ? 'block' : 'unblock', delivery.data.jid),
        );
      }
      break;
    default:
      break;
  }
}

function renderEdit(session: RenderTarget, view: MessageView): void {
  if (view.direction === 'in') {
    deliverLive(session, correctionStanza(view, session.fullJid, view.id));
  } else if (session.carbons && session.available) {
    session.send(
      carbonOf(
        'sent',
        session.jid,
        session.fullJid,
        correctionStanza(view, view.to, authorsId(view)),
      ),
    );
  }
}

function renderMarker(session: RenderTarget, view: MarkerView): void {
  if (view.conversation.type !== 'chat') {
    return;
  }
  if (view.by !== session.jid) {
    deliverLive(
      session,
      markerStanza(view, view.by, session.fullJid, view.client_id ?? view.message_id),
    );
  } else if (session.carbons && session.available) {
    session.send(
      carbonOf(
        'sent',
        session.jid,
        session.fullJid,
        markerStanza(view, session.jid, view.conversation.id, view.message_id),
      ),
    );
  }
}

function deliverLive(session: RenderTarget, stanza: XmlElement): void {
  if (session.available) {
    session.send(stanza);
  }
}
