import type { Delivery } from '#src/routing/server-events.js';

export type Transport = 'socket.io' | 'sse' | 'xmpp';

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
}

/** A session held by this node, able to receive deliveries. */
export interface LocalSession extends SessionInfo {
  deliver(delivery: Delivery): void;
  /** Ends the session from the server side (kick, shutdown). */
  close(reason: string): void;
}
