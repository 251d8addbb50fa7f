import type { ConversationKind } from '#src/messaging/message-view.js';

/** An inbox entry as `GET /api/inbox` shows it. */
export interface InboxEntryView {
  readonly type: ConversationKind;
  /** The peer's bare JID for a chat, the room id for a room. */
  readonly id: string;
  readonly last_message: {
    readonly id: string;
    readonly from: string;
    /** Empty when the message was retracted. */
    readonly body: string;
    /** Epoch milliseconds. */
    readonly timestamp: number;
  };
  readonly unread: number;
  /** Epoch milliseconds; null when not muted. A time in the past means not muted any more. */
  readonly muted_until: number | null;
  readonly archived: boolean;
  readonly pinned: boolean;
}

/** An inbox change pushed live: what changed, with the unread count it left. */
export interface InboxChangeView {
  readonly type: ConversationKind;
  readonly id: string;
  readonly unread: number;
  readonly last_message_id?: string;
  readonly muted_until?: number | null;
  readonly archived?: boolean;
  readonly pinned?: boolean;
}
