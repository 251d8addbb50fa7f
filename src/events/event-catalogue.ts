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
