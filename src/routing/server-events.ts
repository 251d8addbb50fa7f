import type { MessageView } from '#src/messaging/message-view.js';
import type { RoomDestroyedView, RoomMessageView } from '#src/rooms/room-message-view.js';

/**
 * Events the server pushes to a user's live sessions, by name. socket.io
 * emits them under these names and SSE uses them as the `event:` field.
 */
export interface ServerEvents {
  /** A message addressed to this user. */
  message: MessageView;
  /** A copy of a message this user sent from another session. */
  'message:sent': MessageView;
  /** A message in a room this user is in (their own from another session included). */
  'room:message': RoomMessageView;
  /** Someone joined, left or was removed from a room of this user's, or changed role; also sent to whoever was removed. */
  'room:member': RoomMessageView;
  /** A room of this user's was created or its name, subject or settings changed. */
  'room:updated': RoomMessageView;
  /** A room this user was in is gone. */
  'room:destroyed': RoomDestroyedView;
}

export type ServerEventName = keyof ServerEvents;

export type Delivery = {
  [K in ServerEventName]: { readonly event: K; readonly data: ServerEvents[K] };
}[ServerEventName];
