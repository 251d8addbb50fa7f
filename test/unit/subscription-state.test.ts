import { describe, expect, it } from 'vitest';

import {
  NO_SUBSCRIPTION,
  STANZAS,
  STATE_NAMES,
  stateName,
  stateOf,
  transition,
  type Direction,
  type StateName,
  type SubscriptionStanza,
  type SubscriptionState,
} from '#src/contacts/subscription-state.js';

/**
 * RFC 6121 Appendix A, row by row as printed there: for each table, the nine
 * states in order (None, None + Pending Out, None + Pending In, None + Pending
 * Out+In, To, To + Pending In, From, From + Pending Out, Both) and the new
 * state, or "-" for "no state change".
 */
const RFC_TABLES: Record<Direction, Record<SubscriptionStanza, string>> = {
  outbound: {
    subscribe: 'none+out - none+out+in - - - from+out - -',
    subscribed: '- - from from+out - both - - -',
    unsubscribe: '- none - none+in none none+in - from from',
    unsubscribed: '- - none none+out - to none none+out to',
  },
  inbound: {
    subscribe: 'none+in none+out+in - - to+in - - - -',
    subscribed: '- to - to+in - - - both -',
    unsubscribe: '- - none none+out - to none none+out to',
    unsubscribed: '- none - none+in none none+in - from from',
  },
};

describe('the subscription state machine of RFC 6121 Appendix A', () => {
  for (const direction of ['outbound', 'inbound'] as const) {
    for (const stanza of STANZAS) {
      const expected = RFC_TABLES[direction][stanza].split(' ');
      for (const [index, from] of STATE_NAMES.entries()) {
        const cell = expected[index]!;
        it(`${direction} ${stanza} in ${from}: ${cell === '-' ? 'no state change' : cell}`, () => {
          const result = transition(stateOf(from), direction, stanza);

          expect(result.changed).toBe(cell !== '-');
          expect(stateName(result.state)).toBe(cell === '-' ? from : cell);
        });
      }
    }
  }

  it('routes outbound subscribe, unsubscribe and unsubscribed always, subscribed only when it approves', () => {
    for (const from of STATE_NAMES) {
      for (const stanza of STANZAS) {
        const result = transition(stateOf(from), 'outbound', stanza);
        expect(result.route).toBe(stanza === 'subscribed' ? result.changed : true);
        expect(result.deliver).toBe(false);
      }
    }
  });

  it('delivers an inbound stanza exactly when it changed the state, and never routes it', () => {
    for (const from of STATE_NAMES) {
      for (const stanza of STANZAS) {
        const result = transition(stateOf(from), 'inbound', stanza);
        expect(result.deliver).toBe(result.changed);
        expect(result.route).toBe(false);
      }
    }
  });

  it('auto-replies subscribed to an inbound subscribe only when the contact is already subscribed', () => {
    const replying = STATE_NAMES.filter(
      (from) => transition(stateOf(from), 'inbound', 'subscribe').autoReply === 'subscribed',
    );

    expect(replying).toEqual(['from', 'from+out', 'both']);
    for (const stanza of ['subscribed', 'unsubscribe', 'unsubscribed'] as const) {
      for (const from of STATE_NAMES) {
        expect(transition(stateOf(from), 'inbound', stanza).autoReply).toBeUndefined();
      }
    }
  });

  it('names every defined state and refuses the combinations Appendix A.1 does not define', () => {
    for (const name of STATE_NAMES) {
      expect(stateName(stateOf(name))).toBe(name);
    }
    expect(() => stateName({ subscription: 'to', pendingOut: true, pendingIn: false })).toThrow();
    expect(() => stateName({ subscription: 'from', pendingOut: false, pendingIn: true })).toThrow();
    expect(() => stateName({ subscription: 'both', pendingOut: true, pendingIn: false })).toThrow();
  });

  it('keeps two local users’ rows mirror images through any sequence of requests', () => {
    // Alice's item for Bob and Bob's item for Alice; every outbound stanza that
    // routes is applied inbound on the other side, auto-replies included.
    let seed = 42;
    const random = (n: number) => {
      // A linear congruential generator; its low bits cycle quickly, so take the high ones.
      seed = (seed * 1103515245 + 12345) % 2 ** 31;

      return Math.floor(seed / 2 ** 16) % n;
    };
    const sides: [SubscriptionState, SubscriptionState] = [NO_SUBSCRIPTION, NO_SUBSCRIPTION];
    const seen = new Set<StateName>();
    for (let step = 0; step < 5000; step += 1) {
      const actor = random(2) as 0 | 1;
      const other = (1 - actor) as 0 | 1;
      const stanza = STANZAS[random(4)]!;
      const out = transition(sides[actor], 'outbound', stanza);
      sides[actor] = out.state;
      if (out.route) {
        const inbound = transition(sides[other], 'inbound', stanza);
        sides[other] = inbound.state;
        if (inbound.autoReply !== undefined) {
          sides[actor] = transition(sides[actor], 'inbound', inbound.autoReply).state;
        }
      }
      seen.add(stateName(sides[0]));
      expect(mirror(sides[0])).toEqual(sides[1]);
    }

    expect([...seen].sort()).toEqual([...STATE_NAMES].sort());
  });

  it('walks the usual flow: request, approve, mutual, cancel', () => {
    let alice = NO_SUBSCRIPTION;
    let bob = NO_SUBSCRIPTION;
    const send = (sender: 'alice' | 'bob', stanza: SubscriptionStanza) => {
      const out = transition(sender === 'alice' ? alice : bob, 'outbound', stanza);
      const routed = out.route
        ? transition(sender === 'alice' ? bob : alice, 'inbound', stanza).state
        : undefined;
      if (sender === 'alice') {
        alice = out.state;
        bob = routed ?? bob;
      } else {
        bob = out.state;
        alice = routed ?? alice;
      }

      return [stateName(alice), stateName(bob)];
    };

    expect(send('alice', 'subscribe')).toEqual(['none+out', 'none+in']);
    expect(send('bob', 'subscribed')).toEqual(['to', 'from']);
    expect(send('bob', 'subscribe')).toEqual(['to+in', 'from+out']);
    expect(send('alice', 'subscribed')).toEqual(['both', 'both']);
    expect(send('alice', 'unsubscribe')).toEqual(['from', 'to']);
    expect(send('alice', 'unsubscribed')).toEqual(['none', 'none']);
  });
});

/** What the other side's item must be when both sides agree. */
function mirror(state: SubscriptionState): SubscriptionState {
  const flip = { none: 'none', to: 'from', from: 'to', both: 'both' } as const;

  return {
    subscription: flip[state.subscription],
    pendingOut: state.pendingIn,
    pendingIn: state.pendingOut,
  };
}
