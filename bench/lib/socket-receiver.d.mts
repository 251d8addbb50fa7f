// Types of the benchmark's receive-only socket.io client, for tests that drive it.
export interface SocketReceiver {
  /** Leaves the namespace and closes the connection. */
  close(): void;
}

export interface SocketReceiverOptions {
  /** Event name to a function of the event's first argument; other events are dropped. */
  handlers: Record<string, (data: unknown) => void>;
  /** Resolve once this event has arrived, instead of at the namespace's CONNECT answer. */
  readyEvent?: string;
  /** Runs once when an accepted connection ends. */
  onClose?: () => void;
  timeoutMs?: number;
}

export declare function connectReceiver(
  base: string,
  auth: Record<string, string>,
  options: SocketReceiverOptions,
): Promise<SocketReceiver>;
