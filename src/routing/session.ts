import type { Delivery, StanzaData } from '#src/routing/server-events.js';

export type Transport = 'socket.io' | 'sse' | 'xmpp';

/** Availability of a session, as XMPP's `<show/>` has it (RFC 6121 section 4.7.2.1), `online` for none. */
export type Availability = 'online' | 'away' | 'dnd' | 'xa';

export interface SessionPresence {
  readonly show: Availability;
  readonly status?: string;
  /**
   * False for a session that is connected but not available: an XMPP
   * resource before its initial presence or after `unavailable` (RFC 6121
   * section 4.2). Such a session is left out of the user's presence.
   */
  readonly available?: false;
  /** An XMPP resource's priority when not 0; below 0 it gets no messages to the bare JID. */
  readonly priority?: number;
  /**
   * An XMPP resource's presence children beyond its show and status
   * (entity capabilities, avatar hash, idle time, `<show>chat`, and the
   * priority as read), passed on to whoever receives its presence over XMPP.
   */
  readonly extensions?: readonly StanzaData[];
}

/** What the registry knows of a session, on any node. */
export interface SessionInfo {
  readonly id: string;
  /** Bare JID of the user. */
  readonly jid: string;
  readonly resource: string;
  readonly transport: Transport;
  readonly node: string;
  /** Epoch milliseconds. */
  readonly connectedAt: number;
  readonly address?: string;
  /** Absent until the session sets one: a session that connects is online. */
  readonly presence?: SessionPresence;
}

/**
 * Whether every message to the user reaches the session: any socket.io or
 * SSE session; an XMPP resource once available with a priority of 0 or more
 * (RFC 6121 section 8.5.2.1).
 */
export function receivesBareMessages(session: SessionInfo): boolean {
  return (
    session.transport !== 'xmpp' ||
    (session.presence !== undefined &&
      session.presence.available !== false &&
      (session.presence.priority ?? 0) >= 0)
  );
}

/** A session held by this node, able to receive deliveries. */
export interface LocalSession extends SessionInfo {
  /**
   * Epoch milliseconds since which every message to the user has reached
   * this session; absent while it receives none (an XMPP resource before its
   * initial presence, unavailable or of negative priority). The user's
   * offline messages never start before it when this session closes last.
   */
  readonly receivingSince?: number;
  deliver(delivery: Delivery): void;
  /** Several events in order, when the transport can send them together more cheaply. */
  deliverAll?(deliveries: readonly Delivery[]): void;
  /** Ends the session from the server side (kick, shutdown). */
  close(reason: string): void;
}
