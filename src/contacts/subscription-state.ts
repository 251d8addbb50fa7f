/**
 * Presence subscription states and their transitions, as RFC 6121
 * Appendix A defines them. Pure and transport-neutral: REST calls it now,
 * the XMPP gateway will call it for stanzas later.
 *
 * A state is one side's view: the roster item that `user` keeps for
 * `contact`. `to` means the user receives the contact's presence, `from`
 * that the contact receives the user's; pending out is the user's request
 * awaiting the contact's answer, pending in the contact's request awaiting
 * the user's.
 */
export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface SubscriptionState {
  readonly subscription: Subscription;
  readonly pendingOut: boolean;
  readonly pendingIn: boolean;
}

/** The four subscription-related presence types (RFC 6121 section 3). */
export type SubscriptionStanza = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

/** Outbound: the user sent the stanza. Inbound: the contact's stanza arrived for the user. */
export type Direction = 'outbound' | 'inbound';

export interface Transition {
  readonly state: SubscriptionState;
  /** False for the outcomes the RFC tables mark "no state change": the request is ignored. */
  readonly changed: boolean;
  /**
   * Outbound only: whether the stanza goes on to the contact's server, which
   * then applies the inbound side. RFC 6121 sections 3.1.2, 3.2.2 and 3.3.2
   * route subscribe, unsubscribed and unsubscribe whatever the local state;
   * section 3.1.5 routes subscribed only when it approves a pending request.
   */
  readonly route: boolean;
  /** Inbound only: whether the stanza is delivered to the user's clients (it changed their state). */
  readonly deliver: boolean;
  /**
   * Inbound subscribe when the contact already receives the user's presence:
   * the user's server answers `subscribed` on the user's behalf without
   * bothering them (RFC 6121 section 3.1.3).
   */
  readonly autoReply?: 'subscribed';
}

/** The nine states of RFC 6121 Appendix A.1, by short name. */
export type StateName =
  'none' | 'none+out' | 'none+in' | 'none+out+in' | 'to' | 'to+in' | 'from' | 'from+out' | 'both';

export const STATE_NAMES: readonly StateName[] = [
  'none',
  'none+out',
  'none+in',
  'none+out+in',
  'to',
  'to+in',
  'from',
  'from+out',
  'both',
];

export const STANZAS: readonly SubscriptionStanza[] = [
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
];

export const NO_SUBSCRIPTION: SubscriptionState = {
  subscription: 'none',
  pendingOut: false,
  pendingIn: false,
};

/** `null` is "no state change". */
type Table = { readonly [S in StateName]: StateName | null };

/** RFC 6121 Appendix A.2: the user's server handling what the user sends. */
const OUTBOUND: { readonly [T in SubscriptionStanza]: Table } = {
  // A.2.1
  subscribe: {
    none: 'none+out',
    'none+out': null,
    'none+in': 'none+out+in',
    'none+out+in': null,
    to: null,
    'to+in': null,
    from: 'from+out',
    'from+out': null,
    both: null,
  },
  // A.2.2 (pre-approval, section 3.4, is not offered: "None", "None + Pending Out" and "To" stay)
  subscribed: {
    none: null,
    'none+out': null,
    'none+in': 'from',
    'none+out+in': 'from+out',
    to: null,
    'to+in': 'both',
    from: null,
    'from+out': null,
    both: null,
  },
  // A.2.3
  unsubscribe: {
    none: null,
    'none+out': 'none',
    'none+in': null,
    'none+out+in': 'none+in',
    to: 'none',
    'to+in': 'none+in',
    from: null,
    'from+out': 'from',
    both: 'from',
  },
  // A.2.4
  unsubscribed: {
    none: null,
    'none+out': null,
    'none+in': 'none',
    'none+out+in': 'none+out',
    to: null,
    'to+in': 'to',
    from: 'none',
    'from+out': 'none+out',
    both: 'to',
  },
};

/** RFC 6121 Appendix A.3: the user's server handling what the contact sent to the user. */
const INBOUND: { readonly [T in SubscriptionStanza]: Table } = {
  // A.3.1; in "From", "From + Pending Out" and "Both" the server auto-replies subscribed
  subscribe: {
    none: 'none+in',
    'none+out': 'none+out+in',
    'none+in': null,
    'none+out+in': null,
    to: 'to+in',
    'to+in': null,
    from: null,
    'from+out': null,
    both: null,
  },
  // A.3.2
  subscribed: {
    none: null,
    'none+out': 'to',
    'none+in': null,
    'none+out+in': 'to+in',
    to: null,
    'to+in': null,
    from: null,
    'from+out': 'both',
    both: null,
  },
  // A.3.3
  unsubscribe: {
    none: null,
    'none+out': null,
    'none+in': 'none',
    'none+out+in': 'none+out',
    to: null,
    'to+in': 'to',
    from: 'none',
    'from+out': 'none+out',
    both: 'to',
  },
  // A.3.4
  unsubscribed: {
    none: null,
    'none+out': 'none',
    'none+in': null,
    'none+out+in': 'none+in',
    to: 'none',
    'to+in': 'none+in',
    from: null,
    'from+out': 'from',
    both: 'from',
  },
};

const AUTO_REPLY_STATES: ReadonlySet<StateName> = new Set(['from', 'from+out', 'both']);

/** The one transition function: the next state of a roster item for a stanza in a direction. */
export function transition(
  current: SubscriptionState,
  direction: Direction,
  stanza: SubscriptionStanza,
): Transition {
  const name = stateName(current);
  const next = (direction === 'outbound' ? OUTBOUND : INBOUND)[stanza][name];
  const changed = next !== null;
  const state = next === null ? current : stateOf(next);
  if (direction === 'outbound') {
    return {
      state,
      changed,
      route: stanza === 'subscribed' ? changed : true,
      deliver: false,
    };
  }
  const autoReply = stanza === 'subscribe' && AUTO_REPLY_STATES.has(name);

  return {
    state,
    changed,
    route: false,
    deliver: changed,
    ...(autoReply ? { autoReply: 'subscribed' as const } : {}),
  };
}

/** The RFC name of a state; throws for a combination Appendix A.1 does not define. */
export function stateName(state: SubscriptionState): StateName {
  const { subscription, pendingOut, pendingIn } = state;
  const name = [subscription, pendingOut ? 'out' : '', pendingIn ? 'in' : '']
    .filter((part) => part !== '')
    .join('+') as StateName;
  if (!STATE_NAMES.includes(name)) {
    throw new Error(`not a subscription state of RFC 6121 Appendix A.1: ${name}`);
  }

  return name;
}

export function stateOf(name: StateName): SubscriptionState {
  const [subscription, ...pending] = name.split('+') as [Subscription, ...string[]];

  return {
    subscription,
    pendingOut: pending.includes('out'),
    pendingIn: pending.includes('in'),
  };
}

/** Whether the user receives the contact's presence in this state. */
export function receivesPresence(state: SubscriptionState): boolean {
  return state.subscription === 'to' || state.subscription === 'both';
}
