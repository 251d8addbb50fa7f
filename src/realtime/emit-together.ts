import type { Duplex } from 'node:stream';

import type { Socket } from 'socket.io';

import type { Delivery } from '#src/routing/server-events.js';

/** The engine.io pieces this relies on, which its typings keep private. */
interface EngineInternals {
  readonly transport: {
    readonly name: string;
    writable: boolean;
    /** The `ws` WebSocket, whose `_socket` is the TCP connection. */
    readonly socket?: { readonly _socket?: Duplex };
  };
  flush(): void;
}

/**
 * Emits several events of one delivery (a message and the inbox change it
 * made) in a single TCP write. engine.io hands a websocket one batch at a
 * time and holds later packets until that batch is written, so two emits in
 * a row cost two writes and two drain rounds; queued first and flushed
 * together under one cork, they leave as one. Any other state (polling, a
 * write still pending, one event) emits as usual.
 */
export function emitTogether(socket: Socket, deliveries: readonly Delivery[]): void {
  const engine = socket.conn as unknown as EngineInternals;
  const transport = engine.transport;
  const tcp = transport.name === 'websocket' ? transport.socket?._socket : undefined;
  if (deliveries.length < 2 || !transport.writable || tcp === undefined || tcp.destroyed) {
    deliveries.forEach((delivery) => socket.emit(delivery.event, delivery.data));

    return;
  }
  // Not writable for a moment, engine.io queues each packet instead of sending it alone.
  transport.writable = false;
  try {
    deliveries.forEach((delivery) => socket.emit(delivery.event, delivery.data));
  } finally {
    // Whatever was queued goes out, together, even if an emit threw.
    transport.writable = true;
    tcp.cork();
    try {
      engine.flush();
    } finally {
      tcp.uncork();
    }
  }
}
