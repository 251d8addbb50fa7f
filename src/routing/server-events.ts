import type { BlockView } from '#src/blocking/block-view.js';
import type { ContactView, SubscriptionRequestView } from '#src/contacts/contact-view.js';
import type { InboxChangeView } from '#src/inbox/inbox-view.js';
import type { MarkerView, MessageView, ReactionChangeView } from '#src/messaging/message-view.js';
import type { PresenceView, TypingView } from '#src/presence/presence-view.js';
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
  /** A room message was edited by its author: the entry as the archive now shows it. */
  'room:message:edited': RoomMessageView;
  /** A room message was retracted by its author. */
  'room:message:retracted': {
    readonly id: string;
    readonly room: string;
    readonly from: string;
    readonly retracted_at: number;
  };
  /** A message of a conversation this user is in was edited by its author. */
  'message:edited': MessageView;
  /** A message was retracted by its author: `{id, from, to, retracted_at}`, and `client_id` to the author. */
  'message:retracted': Pick<MessageView, 'id' | 'from' | 'to' | 'client_id'> & {
    readonly retracted_at: number;
  };
  /** Someone added or removed a reaction on a message this user can see. */
  'message:reaction': ReactionChangeView;
  /** A participant marked a message received, displayed or acknowledged. */
  marker: MarkerView;
  /** One of this user's inbox entries changed: unread count, last message or flags. */
  inbox: InboxChangeView;
  /** A roster item was added or changed (name, groups, subscription, pending requests). */
  contact: ContactView;
  /** A roster item is gone. */
  'contact:removed': { readonly jid: string };
  /** A contact's subscription request or answer that changed this user's item (RFC 6121 section 3). */
  subscription: SubscriptionRequestView;
  /** A contact's presence (or the user's own, from another session); `offline` when it ended. */
  presence: PresenceView;
  /** A peer is typing or stopped; real time only. */
  typing: TypingView;
  /** The user blocked a JID (from any session). */
  block: BlockView;
  /** The user unblocked a JID. */
  'block:removed': { readonly jid: string };
  /**
   * An XMPP stanza routed as it is between resources (an IQ to a full JID,
   * its answer, a headline): only XMPP sessions take it, and only the one
   * with `resource` when it is given.
   */
  'xmpp:stanza': StanzaRouting;
}

/** A stanza as plain data, so it crosses the cluster bus as JSON. */
export interface StanzaData {
  readonly name: string;
  readonly ns: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly (StanzaData | string)[];
}

export interface StanzaRouting {
  readonly stanza: StanzaData;
  /** The addressed resource; absent: every available resource with a non-negative priority. */
  readonly resource?: string;
}

export type ServerEventName = keyof ServerEvents;

export type Delivery = {
  [K in ServerEventName]: {
    readonly event: K;
    readonly data: ServerEvents[K];
    /**
     * For XMPP: the resource a message was addressed to (RFC 6121 section
     * 8.5.3); other resources take it as a copy. Other transports ignore it.
     */
    readonly resource?: string;
    /** For XMPP: a message or chat state an XMPP session sent, as its stanza had it (XmppOrigin). */
    readonly origin?: XmppOrigin;
    /** The sender asked for no copies (XEP-0280 private): a session skipped by the message gets no carbon of it. */
    readonly private?: true;
  };
}[ServerEventName];

/**
 * What an XMPP sender's message stanza said that the archive does not keep,
 * for its live deliveries: the sending resource, so the message comes from
 * that full JID (RFC 6120 section 8.1.2.1), and whether it was of type
 * normal (RFC 6121 section 5.2.2; none or an unknown type counts as normal).
 */
export interface XmppOrigin {
  readonly resource: string;
  readonly normal?: true;
}

/** Events only XMPP sessions take. */
export function xmppOnly(delivery: Delivery): boolean {
  return delivery.event === 'xmpp:stanza';
}
