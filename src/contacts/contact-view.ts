import type { ContactEntity } from '#src/contacts/contact.entity.js';
import type {
  Subscription,
  SubscriptionStanza,
  SubscriptionState,
} from '#src/contacts/subscription-state.js';

/** Pending requests as MongooseIM's roster showed them: `out` the user's, `in` the contact's. */
export type Ask = 'none' | 'out' | 'in' | 'both';

/** A roster item as REST and the `contact` push show it. */
export interface ContactView {
  readonly jid: string;
  readonly subscription: Subscription;
  readonly ask: Ask;
  readonly name?: string;
  readonly groups: readonly string[];
}

function askOf(state: SubscriptionState): Ask {
  if (state.pendingOut) {
    return state.pendingIn ? 'both' : 'out';
  }

  return state.pendingIn ? 'in' : 'none';
}

export function toContactView(
  row: Pick<ContactEntity, 'jid' | 'subscription' | 'pendingOut' | 'pendingIn' | 'name' | 'groups'>,
): ContactView {
  return {
    jid: row.jid,
    subscription: row.subscription,
    ask: askOf(row),
    ...(row.name === null ? {} : { name: row.name }),
    groups: row.groups,
  };
}

/** What a contact sent that reached the user: `subscribe` is a request waiting for an answer. */
export interface SubscriptionRequestView {
  readonly from: string;
  readonly type: SubscriptionStanza;
}
