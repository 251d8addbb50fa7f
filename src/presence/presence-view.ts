import type { StanzaData } from '#src/routing/server-events.js';
import type { Availability } from '#src/routing/session.js';

/** One session's part of a presence. */
export interface ResourcePresence {
  readonly resource: string;
  readonly show: Availability;
  readonly status?: string;
  /** An XMPP session's presence extensions (SessionPresence). */
  readonly extensions?: readonly StanzaData[];
}

/**
 * A user's presence as contacts see it (the `presence` push and GET
 * /api/presence): the most available session's show and status, and every
 * session's own, the way XMPP clients see one presence per resource.
 */
export interface PresenceView {
  readonly jid: string;
  readonly show: Availability | 'offline';
  readonly status?: string;
  readonly resources: readonly ResourcePresence[];
}

/** A chat state notification (XEP-0085), sent in real time only and never stored. */
export interface TypingView {
  readonly from: string;
  readonly state: ChatState;
}

/** The states REST and socket.io send. */
export const TYPING_STATES = ['composing', 'paused'] as const;
export type TypingState = (typeof TYPING_STATES)[number];

/** Every XEP-0085 state; XMPP clients send active, inactive and gone as well, relayed the same way. */
export const CHAT_STATES = ['active', 'composing', 'paused', 'inactive', 'gone'] as const;
export type ChatState = (typeof CHAT_STATES)[number];

export const AVAILABILITIES: readonly Availability[] = ['online', 'away', 'dnd', 'xa'];

/** Which session speaks for the user: the most available; dnd still counts as there (RFC 6121 section 4.7.2.1). */
const RANK: Record<Availability, number> = { online: 0, dnd: 1, away: 2, xa: 3 };

export function offline(jid: string): PresenceView {
  return { jid, show: 'offline', resources: [] };
}

export function aggregate(jid: string, resources: readonly ResourcePresence[]): PresenceView {
  const sorted = [...resources].sort(
    (a, b) => RANK[a.show] - RANK[b.show] || a.resource.localeCompare(b.resource),
  );
  const best = sorted[0];
  if (best === undefined) {
    return offline(jid);
  }

  return {
    jid,
    show: best.show,
    ...(best.status === undefined ? {} : { status: best.status }),
    resources: sorted,
  };
}
