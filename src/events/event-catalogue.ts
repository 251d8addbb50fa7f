/**
 * The public catalogue of domain events: the names integrators subscribe
 * to, each with its payload version. Names are dotted and past tense.
 * Payload shapes change only by bumping the version of that event.
 */
export interface EventPayloads {
  /** A one-to-one message was stored. */
  'message.created': {
    readonly id: string;
    readonly from: string;
    readonly to: string;
    readonly body: string;
    readonly timestamp: number;
    readonly client_id?: string;
    readonly reply_to?: string;
    readonly thread?: string;
  };
  /** The author corrected a one-to-one message; the id stays, the revision counts up. */
  'message.edited': {
    readonly id: string;
    readonly from: string;
    readonly to: string;
    readonly body: string;
    readonly revision: number;
    readonly edited_at: number;
  };
  /** The author retracted a one-to-one message; its body is gone. */
  'message.retracted': {
    readonly id: string;
    readonly from: string;
    readonly to: string;
    readonly retracted_at: number;
  };
  /** A participant displayed a conversation up to this message (XEP-0333). */
  'message.displayed': {
    readonly id: string;
    readonly by: string;
    /** The other participant: the peer's JID of a chat, or `room` with the room id. */
    readonly conversation: { readonly type: 'chat' | 'room'; readonly id: string };
  };
  /** A participant added or removed an emoji reaction. */
  'message.reacted': {
    readonly id: string;
    readonly by: string;
    readonly emoji: string;
    readonly added: boolean;
  };
  /** A room was created; its creator (or the user an administrator named) is its owner. */
  'room.created': {
    readonly room: string;
    readonly name: string;
    readonly subject: string;
    readonly owner: string;
  };
  /** Someone joined a room; `by` is who added them, absent when an administrator did. */
  'room.member_added': {
    readonly room: string;
    readonly member: string;
    readonly role: 'owner' | 'member';
    readonly by?: string;
  };
  /** Someone left a room, was removed, or their account was deleted. */
  'room.member_removed': {
    readonly room: string;
    readonly member: string;
    readonly reason: 'left' | 'removed' | 'account_deleted';
    readonly by?: string;
  };
  /** A message was stored in a room's archive. */
  'room.message_created': {
    readonly room: string;
    readonly id: string;
    readonly from: string;
    readonly body: string;
    readonly timestamp: number;
    readonly client_id?: string;
  };
  /** A room's name, subject or settings changed; the payload has the new values. */
  'room.config_changed': {
    readonly room: string;
    readonly name: string;
    readonly subject: string;
    readonly settings: {
      readonly configure: 'owners' | 'members';
      readonly invite: 'owners' | 'members';
      readonly remove: 'owners' | 'members';
    };
    readonly by?: string;
  };
  /** A room and its archive are gone: an owner or an administrator destroyed it, or its last member left. */
  'room.destroyed': { readonly room: string; readonly by?: string };
  'user.created': { readonly jid: string };
  /** The user and their data are gone. */
  'user.deleted': { readonly jid: string };
  /** The user's first session opened. Transient: not kept in the outbox. */
  'presence.online': {
    readonly jid: string;
    readonly resource: string;
    readonly transport: string;
  };
  /** The user's last session closed. Transient: not kept in the outbox. */
  'presence.offline': { readonly jid: string };
  /** `user` now receives the presence of `contact` (their subscription became to or both). */
  'contact.subscribed': { readonly user: string; readonly contact: string };
  /** `user` no longer receives the presence of `contact`. */
  'contact.unsubscribed': { readonly user: string; readonly contact: string };
  /** Sent on demand from the admin API to check an endpoint. */
  'webhook.test': { readonly endpoint_id: string; readonly message: string };
  /** An endpoint stopped receiving: it answered 410, or failed without a success for too long. */
  'webhook.endpoint_disabled': {
    readonly endpoint_id: string;
    readonly url: string;
    readonly reason: string;
  };
}

export type EventType = keyof EventPayloads;

export const EVENT_VERSIONS: { readonly [K in EventType]: number } = {
  'message.created': 1,
  'room.created': 1,
  'room.member_added': 1,
  'room.member_removed': 1,
  'room.message_created': 1,
  'room.config_changed': 1,
  'room.destroyed': 1,
  'message.edited': 1,
  'message.retracted': 1,
  'message.displayed': 1,
  'message.reacted': 1,
  'user.created': 1,
  'user.deleted': 1,
  'presence.online': 1,
  'presence.offline': 1,
  'contact.subscribed': 1,
  'contact.unsubscribed': 1,
  'webhook.test': 1,
  'webhook.endpoint_disabled': 1,
};

export const EVENT_TYPES = Object.keys(EVENT_VERSIONS) as EventType[];

/** An event to record; the recorder gives it its id, timestamp and sequence. */
export type NewEvent = {
  [K in EventType]: {
    readonly type: K;
    readonly domain: string;
    readonly data: EventPayloads[K];
    /** For conversation events: the conversation, so receivers can order by sequence. */
    readonly conversation?: string;
    readonly requestId?: string;
  };
}[EventType];

/** The JSON body of a delivery: `{id, type, timestamp, data}` plus what receivers need to route and order. */
export interface EventEnvelope {
  readonly id: string;
  readonly type: EventType;
  /** ISO 8601, UTC. */
  readonly timestamp: string;
  readonly version: number;
  readonly domain: string;
  readonly conversation?: { readonly id: string; readonly sequence: number };
  readonly data: EventPayloads[EventType];
}

/** The key of a one-to-one conversation: both bare JIDs, sorted, so both sides name it alike. */
export function directConversation(a: string, b: string): string {
  return a < b ? `direct:${a}|${b}` : `direct:${b}|${a}`;
}

/** The key of a room: every event of one room shares its sequence. */
export function roomConversation(roomId: string): string {
  return `room:${roomId}`;
}
