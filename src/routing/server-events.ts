import type { MessageView } from '#src/messaging/message-view.js';

/**
 * Events the server pushes to a user's live sessions, by name. socket.io
 * emits them under these names and SSE uses them as the `event:` field.
 */
export interface ServerEvents {
  /** A message addressed to this user. */
  message: MessageView;
  /** A copy of a message this user sent from another session. */
  'message:sent': MessageView;
}

export type ServerEventName = keyof ServerEvents;

export type Delivery = {
  [K in ServerEventName]: { readonly event: K; readonly data: ServerEvents[K] };
}[ServerEventName];
