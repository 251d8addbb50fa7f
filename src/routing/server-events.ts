import type { InboxChangeView } from '#src/inbox/inbox-view.js';
import type { MarkerView, MessageView, ReactionChangeView } from '#src/messaging/message-view.js';

/**
 * Events the server pushes to a user's live sessions, by name. socket.io
 * emits them under these names and SSE uses them as the `event:` field.
 */
export interface ServerEvents {
  /** A message addressed to this user. */
  message: MessageView;
  /** A copy of a message this user sent from another session. */
  'message:sent': MessageView;
  /** A message of a conversation this user is in was edited by its author. */
  'message:edited': MessageView;
  /** A message was retracted by its author: `{id, from, to, retracted_at}`. */
  'message:retracted': Pick<MessageView, 'id' | 'from' | 'to'> & { readonly retracted_at: number };
  /** Someone added or removed a reaction on a message this user can see. */
  'message:reaction': ReactionChangeView;
  /** A participant marked a message received, displayed or acknowledged. */
  marker: MarkerView;
  /** One of this user's inbox entries changed: unread count, last message or flags. */
  inbox: InboxChangeView;
}

export type ServerEventName = keyof ServerEvents;

export type Delivery = {
  [K in ServerEventName]: { readonly event: K; readonly data: ServerEvents[K] };
}[ServerEventName];
