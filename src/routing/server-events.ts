import type { BlockView } from '#src/blocking/block-view.js';
import type { ContactView } from '#src/contacts/contact-view.js';
import type { MessageView } from '#src/messaging/message-view.js';
import type { PresenceView, TypingView } from '#src/presence/presence-view.js';

/**
 * Events the server pushes to a user's live sessions, by name. socket.io
 * emits them under these names and SSE uses them as the `event:` field.
 */
export interface ServerEvents {
  /** A message addressed to this user. */
  message: MessageView;
  /** A copy of a message this user sent from another session. */
  'message:sent': MessageView;
  /** A roster item was added or changed (name, groups, subscription, pending requests). */
  contact: ContactView;
  /** A roster item is gone. */
  'contact:removed': { readonly jid: string };
  /** A contact's presence (or the user's own, from another session); `offline` when it ended. */
  presence: PresenceView;
  /** A peer is typing or stopped; real time only. */
  typing: TypingView;
  /** The user blocked a JID (from any session). */
  block: BlockView;
  /** The user unblocked a JID. */
  'block:removed': { readonly jid: string };
}

export type ServerEventName = keyof ServerEvents;

export type Delivery = {
  [K in ServerEventName]: { readonly event: K; readonly data: ServerEvents[K] };
}[ServerEventName];
