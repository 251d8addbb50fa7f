/** A blocklist entry as REST and the `block` push show it. */
export interface BlockView {
  /** A bare user JID, or a domain: blocking a domain blocks every address on it. */
  readonly jid: string;
  /** ISO 8601. */
  readonly blocked_at: string;
}
