import type { RoomRole } from '#src/rooms/room-rules.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import { isoStamp } from '#src/xmpp/session/xmpp-session.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** Rooms of a domain live on this subdomain of it: `<room id>@muc.<domain>`. */
export const MUC_PREFIX = 'muc.';

/** XEP-0045 section 15.6 status codes the gateway sends. */
export const STATUS = {
  nonAnonymous: 100,
  configChanged: 104,
  self: 110,
  logged: 170,
  nickChanged: 303,
  affiliationChanged: 321,
} as const;

export type Affiliation = RoomRole | 'none';

export function mucDomain(domain: string): string {
  return `${MUC_PREFIX}${domain}`;
}

export function roomJid(room: { readonly id: string; readonly domain: string }): string {
  return `${room.id}@${mucDomain(room.domain)}`;
}

/** Roles follow affiliations (section 5.1.2 defaults): owners moderate, members take part. */
export function roleOf(affiliation: Affiliation): 'moderator' | 'participant' | 'none' {
  return affiliation === 'owner' ? 'moderator' : affiliation === 'member' ? 'participant' : 'none';
}

export interface OccupantPresence {
  readonly nick: string;
  /** The real bare JID: the rooms are non-anonymous (section 7.2.4). */
  readonly jid: string;
  readonly affiliation: Affiliation;
  readonly available: boolean;
  readonly show?: string;
  readonly status?: string;
  readonly codes?: readonly number[];
  readonly newNick?: string;
  /** Section 10.9: the room is gone. */
  readonly destroyed?: boolean;
}

/** An occupant's presence as the room sends it to `to` (sections 7.2.3, 7.14, 9.7, 10.9). */
export function occupantPresence(room: string, to: string, occupant: OccupantPresence): XmlElement {
  return el(
    'presence',
    NS.client,
    {
      from: `${room}/${occupant.nick}`,
      to,
      type: occupant.available ? undefined : 'unavailable',
    },
    occupant.show === undefined ? undefined : el('show', NS.client, {}, occupant.show),
    occupant.status === undefined ? undefined : el('status', NS.client, {}, occupant.status),
    el(
      'x',
      NS.mucUser,
      {},
      el('item', NS.mucUser, {
        affiliation: occupant.affiliation,
        role: occupant.available ? roleOf(occupant.affiliation) : 'none',
        jid: occupant.jid,
        nick: occupant.newNick,
      }),
      occupant.destroyed === true ? el('destroy', NS.mucUser, { jid: room }) : undefined,
      ...[...new Set(occupant.codes ?? [])].map((code) =>
        el('status', NS.mucUser, { code: String(code) }),
      ),
    ),
  );
}

/**
 * A room message as a groupchat stanza (section 7.4) from the sender's
 * nickname; the archive id is the stanza-id, assigned by the room
 * (XEP-0359 section 3). `delay` marks history (section 7.2.15).
 */
export function groupchatMessage(
  room: string,
  nick: string,
  to: string,
  view: RoomMessageView,
  options: { readonly id?: string; readonly delay?: boolean } = {},
): XmlElement {
  return el(
    'message',
    NS.client,
    { from: `${room}/${nick}`, to, type: 'groupchat', id: options.id ?? view.id },
    el('body', NS.client, {}, view.body ?? ''),
    view.thread === undefined ? undefined : el('thread', NS.client, {}, view.thread),
    el('stanza-id', NS.stanzaId, { id: view.id, by: room }),
    options.delay === true
      ? el('delay', NS.delay, { from: room, stamp: isoStamp(view.timestamp) })
      : undefined,
    view.from === undefined
      ? undefined
      : el('x', NS.mucUser, {}, el('item', NS.mucUser, { jid: view.from })),
  );
}

/** The subject (section 7.2.16): always sent on join, empty when there is none. */
export function subjectMessage(
  room: string,
  to: string,
  subject: string,
  nick?: string,
): XmlElement {
  return el(
    'message',
    NS.client,
    { from: nick === undefined ? room : `${room}/${nick}`, to, type: 'groupchat' },
    el('subject', NS.client, {}, subject),
  );
}

/** Section 10.2.1: a configuration change that is not about privacy. */
export function configChangedMessage(room: string, to: string): XmlElement {
  return el(
    'message',
    NS.client,
    { from: room, to, type: 'groupchat' },
    el('x', NS.mucUser, {}, el('status', NS.mucUser, { code: String(STATUS.configChanged) })),
  );
}
