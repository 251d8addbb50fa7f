/** How many users reacted to a message with one emoji. */
export interface ReactionCount {
  readonly emoji: string;
  readonly count: number;
  /** Whether the reader is one of them. */
  readonly mine: boolean;
}

/** A message as the archive, socket.io and SSE show it; one shape everywhere. */
export interface MessageView {
  /** Server-assigned UUIDv7; also the paging cursor. */
  readonly id: string;
  /** Sender's bare JID. */
  readonly from: string;
  /** Recipient's bare JID. */
  readonly to: string;
  /** The current text; empty once retracted. */
  readonly body: string;
  /** Epoch milliseconds, taken from the id. */
  readonly timestamp: number;
  /** `out` in the sender's archive, `in` in the recipient's. */
  readonly direction: 'in' | 'out';
  /** The sender's idempotency key, shown only to the sender. */
  readonly client_id?: string;
  /** The message this one answers. */
  readonly reply_to?: string;
  /** The thread it belongs to. */
  readonly thread?: string;
  /** Epoch milliseconds of the last edit; absent when never edited. */
  readonly edited_at?: number;
  /** How many times it was edited. */
  readonly revision?: number;
  /** Epoch milliseconds of the retraction; the body is then empty. */
  readonly retracted_at?: number;
  /** Reactions, most used first; absent when there are none. */
  readonly reactions?: readonly ReactionCount[];
}

/** `chat` for one-to-one conversations, `room` for group ones. */
export type ConversationKind = 'chat' | 'room';

/** A conversation as a reader names it: the peer's bare JID for a chat, the room id for a room. */
export interface ConversationRef {
  readonly type: ConversationKind;
  readonly id: string;
}

/** A participant's chat marker, pushed live. */
export interface MarkerView {
  readonly conversation: ConversationRef;
  /** Who set the marker. */
  readonly by: string;
  readonly type: 'received' | 'displayed' | 'acknowledged';
  /** The newest message it covers. */
  readonly message_id: string;
  /** That message's `client_id`, to its author only (the id an XMPP client knows it by). */
  readonly client_id?: string;
}

/** A reaction added or removed, pushed live. */
export interface ReactionChangeView {
  /** The message reacted to. */
  readonly id: string;
  readonly conversation: ConversationRef;
  readonly by: string;
  readonly emoji: string;
  readonly added: boolean;
}
