/** A message as the archive, socket.io and SSE show it; one shape everywhere. */
export interface MessageView {
  /** Server-assigned UUIDv7; also the paging cursor. */
  readonly id: string;
  /** Sender's bare JID. */
  readonly from: string;
  /** Recipient's bare JID. */
  readonly to: string;
  readonly body: string;
  /** Epoch milliseconds, taken from the id. */
  readonly timestamp: number;
  /** `out` in the sender's archive, `in` in the recipient's. */
  readonly direction: 'in' | 'out';
  /** The sender's idempotency key, shown only to the sender. */
  readonly client_id?: string;
}
