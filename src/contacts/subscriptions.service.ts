import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

import type { UserRef } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { toContactView, type ContactView } from '#src/contacts/contact-view.js';
import {
  countItems,
  loadItem,
  lockRosters,
  saveItem,
  sameItem,
  type RosterItem,
} from '#src/contacts/roster-store.js';
import { notInRoster, RosterService, type ContactTarget } from '#src/contacts/roster.service.js';
import {
  receivesPresence,
  transition,
  type SubscriptionStanza,
} from '#src/contacts/subscription-state.js';
import type { NewEvent } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { AppConfig } from '#src/config/app-config.js';

/** What a client asks for, and the stanza it amounts to (RFC 6121 section 3). */
export const ACTIONS = {
  /** Ask to receive the contact's presence. */
  invite: 'subscribe',
  /** Let the contact receive the user's presence (answering their request). */
  accept: 'subscribed',
  /** Refuse the contact's request, or stop them receiving the user's presence. */
  decline: 'unsubscribed',
  /** Withdraw the user's request, or stop receiving the contact's presence. */
  cancel: 'unsubscribe',
} as const satisfies Record<string, SubscriptionStanza>;

export type SubscriptionAction = keyof typeof ACTIONS;

/** Someone started or stopped receiving someone else's presence. */
export interface SubscriptionChange {
  readonly subscriber: string;
  readonly contact: string;
  readonly subscribed: boolean;
}

export type SubscriptionListener = (change: SubscriptionChange) => void;

/** An inbound stanza the state machine delivers to one side's clients: the contact's, or the auto-reply to the user. */
interface Notice {
  readonly side: 'own' | 'theirs';
  readonly type: SubscriptionStanza;
}

interface Outcome {
  readonly own: RosterItem;
  readonly ownBefore: RosterItem;
  readonly theirs?: RosterItem;
  readonly theirsBefore?: RosterItem;
  readonly notices: readonly Notice[];
  readonly recorded: number;
}

/**
 * Subscription requests and answers, and removing contacts: the state
 * machine applied to the user's item and, when the contact is a user here,
 * to the contact's item, in one transaction.
 */
@Injectable()
export class SubscriptionsService {
  private readonly listeners: SubscriptionListener[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly roster: RosterService,
    private readonly blocking: BlockingService,
    private readonly events: EventRecorder,
    private readonly config: AppConfig,
  ) {}

  /** Presence listens, to send or withdraw presence as subscriptions come and go. */
  onChange(listener: SubscriptionListener): void {
    this.listeners.push(listener);
  }

  /** Invite, accept, decline or cancel. A request the state machine ignores changes nothing and is no error. */
  async act(owner: UserRef, input: string, action: SubscriptionAction): Promise<ContactView> {
    const target = await this.roster.resolveTarget(owner, input, 'jid', action === 'invite');
    if (await this.blocking.isBlocked(owner.id, target.jid)) {
      // XEP-0191 section 3.6: nothing goes out to a blocked address.
      throw new AppError('recipient-blocked', {
        detail: `you block ${target.jid}; unblock it first`,
      });
    }
    const outcome = await this.apply(owner, target, [ACTIONS[action]], false);

    return toContactView(outcome.own);
  }

  /**
   * Removes a contact: RFC 6121 section 2.5.2, the subscriptions both ways
   * are cancelled (unsubscribe and unsubscribed go to the contact) and the
   * item is deleted. False when there was no item.
   */
  async remove(owner: UserRef, input: string): Promise<boolean> {
    const target = await this.roster.resolveTarget(owner, input, 'jid', false);
    try {
      await this.apply(owner, target, ['unsubscribe', 'unsubscribed'], true);

      return true;
    } catch (error: unknown) {
      if (error instanceof AppError && error.code === 'not-found') {
        return false;
      }
      throw error;
    }
  }

  private async apply(
    owner: UserRef,
    target: ContactTarget,
    stanzas: readonly SubscriptionStanza[],
    remove: boolean,
  ): Promise<Outcome> {
    // A contact who blocks the user never sees the request (XEP-0191 section 3.5), nor does
    // a contact the user blocks (removal only): their side stays as it was, as with a remote server.
    const contact =
      target.local !== undefined &&
      !(await this.blocking.isBlocked(target.local.id, owner.jid)) &&
      !(await this.blocking.isBlocked(owner.id, target.jid))
        ? target.local
        : undefined;
    const outcome = await this.dataSource.transaction((manager) =>
      this.write(manager, owner, target.jid, contact, stanzas, remove),
    );
    if (outcome.recorded > 0) {
      this.events.committed();
    }
    await this.announce(owner.jid, outcome.ownBefore, outcome.own);
    if (contact !== undefined && outcome.theirs !== undefined) {
      await this.announce(contact.jid, outcome.theirsBefore!, outcome.theirs);
    }
    if (contact !== undefined) {
      for (const notice of outcome.notices) {
        await (notice.side === 'theirs'
          ? this.roster.pushRequest(contact.jid, { from: owner.jid, type: notice.type })
          : this.roster.pushRequest(owner.jid, { from: contact.jid, type: notice.type }));
      }
    }

    return outcome;
  }

  /** Both sides' items, read, moved through the state machine and stored, with their events. */
  private async write(
    manager: EntityManager,
    owner: UserRef,
    jid: string,
    contact: UserRef | undefined,
    stanzas: readonly SubscriptionStanza[],
    remove: boolean,
  ): Promise<Outcome> {
    await lockRosters(manager, [owner.id, contact?.id]);
    const ownBefore = await loadItem(manager, owner.id, jid);
    if (remove && !ownBefore.exists) {
      throw notInRoster(jid);
    }
    const theirsBefore =
      contact === undefined ? undefined : await loadItem(manager, contact.id, owner.jid);
    let { own, theirs, notices } = run(ownBefore, theirsBefore, stanzas);
    if (remove) {
      own = { ...own, inRoster: false, subscription: 'none', pendingOut: false, pendingIn: false };
    }
    if (own.inRoster && !ownBefore.inRoster) {
      await this.roster.assertRoom(manager, owner.id);
    }
    if (theirs !== undefined && !theirs.exists && (await this.isCrowded(manager, theirs))) {
      // A flood of requests cannot grow someone's roster without bound; the extra ones are not kept.
      theirs = theirsBefore;
      notices = [];
    }
    own = await saveItem(manager, own);
    if (theirs !== undefined && !sameItem(theirs, theirsBefore!)) {
      theirs = await saveItem(manager, theirs);
    }
    const recorded = await this.events.record(manager, [
      ...subscriptionEvents(owner.jid, ownBefore, own),
      ...(contact === undefined ? [] : subscriptionEvents(contact.jid, theirsBefore!, theirs!)),
    ]);

    return {
      own,
      ownBefore,
      ...(theirs === undefined ? {} : { theirs, theirsBefore: theirsBefore! }),
      notices,
      recorded,
    };
  }

  /** Implicit items (requests waiting) are capped at the same size as a roster. */
  private async isCrowded(manager: EntityManager, item: RosterItem): Promise<boolean> {
    return (await countItems(manager, item.ownerId, false)) >= this.config.contacts.maxPerUser;
  }

  /** Pushes the item to the owner's sessions and tells listeners when a subscription came or went. */
  private async announce(ownerJid: string, before: RosterItem, after: RosterItem): Promise<void> {
    if (sameItem(before, after)) {
      return;
    }
    await this.roster.push(ownerJid, after.exists ? toContactView(after) : { removed: after.jid });
    if (receivesPresence(before) !== receivesPresence(after)) {
      const change = {
        subscriber: ownerJid,
        contact: after.jid,
        subscribed: receivesPresence(after),
      };
      this.listeners.forEach((listener) => listener(change));
    }
  }
}

/**
 * Runs the stanzas through both sides: each outbound stanza that routes is
 * applied inbound to the contact's item, and an auto-reply comes back.
 */
function run(
  ownBefore: RosterItem,
  theirsBefore: RosterItem | undefined,
  stanzas: readonly SubscriptionStanza[],
): { own: RosterItem; theirs: RosterItem | undefined; notices: Notice[] } {
  let own = ownBefore;
  let theirs = theirsBefore;
  const notices: Notice[] = [];
  for (const stanza of stanzas) {
    const outbound = transition(own, 'outbound', stanza);
    // Sending a request or an approval puts the contact in the roster (RFC 6121 sections 3.1.2, 3.1.5).
    const joins = outbound.changed && (stanza === 'subscribe' || stanza === 'subscribed');
    own = { ...own, ...outbound.state, inRoster: own.inRoster || joins };
    if (theirs === undefined || !outbound.route) {
      continue;
    }
    const inbound = transition(theirs, 'inbound', stanza);
    theirs = { ...theirs, ...inbound.state };
    if (inbound.deliver) {
      notices.push({ side: 'theirs', type: stanza });
    }
    if (inbound.autoReply !== undefined) {
      const reply = transition(own, 'inbound', inbound.autoReply);
      own = { ...own, ...reply.state };
      if (reply.deliver) {
        notices.push({ side: 'own', type: inbound.autoReply });
      }
    }
  }

  return { own, theirs, notices };
}

function subscriptionEvents(ownerJid: string, before: RosterItem, after: RosterItem): NewEvent[] {
  const was = receivesPresence(before);
  const is = receivesPresence(after);
  if (was === is) {
    return [];
  }
  const domain = ownerJid.slice(ownerJid.indexOf('@') + 1);
  const data = { user: ownerJid, contact: after.jid };

  return [
    is
      ? { type: 'contact.subscribed', domain, data }
      : { type: 'contact.unsubscribed', domain, data },
  ];
}
