import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

import { DomainsService } from '#src/accounts/domains.service.js';
import { parseUserAddress, UserRef, UsersService } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { AppConfig } from '#src/config/app-config.js';
import { ContactEntity } from '#src/contacts/contact.entity.js';
import {
  toContactView,
  type ContactView,
  type SubscriptionRequestView,
} from '#src/contacts/contact-view.js';
import {
  countItems,
  loadItem,
  lockRosters,
  saveItem,
  type RosterItem,
} from '#src/contacts/roster-store.js';
import { receivesPresence, type Subscription } from '#src/contacts/subscription-state.js';
import { queryPrepared } from '#src/database/prepared-query.js';
import { RouterService } from '#src/routing/router.service.js';

/** The address a roster operation is about, and its account when it is a user here. */
export interface ContactTarget {
  readonly jid: string;
  /** Undefined for an address on a domain not served here: only the user's side is stored. */
  readonly local?: UserRef;
}

export interface ItemFields {
  readonly name?: string | null;
  readonly groups?: readonly string[];
}

/** Reading rosters, and the changes that touch only the owner's side: adding, naming, grouping. */
@Injectable()
export class RosterService {
  private readonly logger = new Logger('Roster');

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly router: RouterService,
    private readonly config: AppConfig,
  ) {}

  /** Read at every XMPP login: a prepared statement, no query builder. */
  async list(owner: UserRef): Promise<ContactView[]> {
    const rows = await queryPrepared<{
      jid: string;
      name: string | null;
      groups: string[];
      subscription: Subscription;
      pending_out: boolean;
      pending_in: boolean;
    }>(
      this.dataSource.manager,
      'roster-list',
      `SELECT jid, name, groups, subscription, pending_out, pending_in FROM contacts
       WHERE owner_id = $1 ORDER BY jid`,
      [owner.id],
    );

    return rows.map((row) =>
      toContactView({ ...row, pendingOut: row.pending_out, pendingIn: row.pending_in }),
    );
  }

  /** Whether the owner receives the presence of `jid` (subscription to or both). */
  async receivesPresenceOf(ownerId: string, jid: string): Promise<boolean> {
    const row = await this.dataSource.getRepository(ContactEntity).findOneBy({ ownerId, jid });

    return row !== null && receivesPresence(row);
  }

  /** Who receives the owner's presence: items with subscription from or both (RFC 6121 section 4.2.2). */
  async subscribersOf(ownerId: string): Promise<string[]> {
    return this.jidsWith(ownerId, ['from', 'both']);
  }

  /** Whose presence the owner receives: items with subscription to or both. */
  async subscriptionsOf(ownerId: string): Promise<string[]> {
    return this.jidsWith(ownerId, ['to', 'both']);
  }

  /**
   * Resolves the JID of a roster request. `strict`: a user here must exist
   * (for adding and inviting); otherwise a deleted account still lets its
   * leftover items be answered and removed.
   */
  async resolveTarget(
    owner: UserRef,
    input: string,
    field: string,
    strict: boolean,
  ): Promise<ContactTarget> {
    const jid = parseUserAddress(input, field);
    if (jid === owner.jid) {
      throw new AppError('validation', {
        detail: 'your own address cannot be a contact',
        fields: [{ name: field, reason: 'your own address' }],
      });
    }
    const served = await this.domains.isEnabled(jid.slice(jid.indexOf('@') + 1));
    if (served === undefined) {
      return { jid };
    }
    const local = served ? await this.users.findByJid(jid) : undefined;
    if (local === undefined && strict) {
      throw new AppError('user-not-found', {
        detail: `${jid} does not exist`,
        fields: [{ name: field, reason: 'no such user' }],
      });
    }

    return local === undefined ? { jid } : { jid, local };
  }

  /** Adds a contact without asking for a subscription; an existing item gets the fields given. */
  async add(
    owner: UserRef,
    input: string,
    fields: ItemFields,
  ): Promise<{ view: ContactView; created: boolean }> {
    const target = await this.resolveTarget(owner, input, 'jid', true);
    const { saved, created } = await this.dataSource.transaction(async (manager) => {
      await lockRosters(manager, [owner.id]);
      const item = await loadItem(manager, owner.id, target.jid);
      if (!item.inRoster) {
        await this.assertRoom(manager, owner.id);
      }

      return {
        saved: await saveItem(manager, withFields({ ...item, inRoster: true }, fields)),
        created: !item.inRoster,
      };
    });
    const view = toContactView(saved);
    await this.push(owner.jid, view);

    return { view, created };
  }

  /** Sets the name and groups of an item in the owner's roster. */
  async update(owner: UserRef, input: string, fields: ItemFields): Promise<ContactView> {
    const jid = parseUserAddress(input, 'jid');
    const saved = await this.dataSource.transaction(async (manager) => {
      await lockRosters(manager, [owner.id]);
      const item = await loadItem(manager, owner.id, jid);
      if (!item.inRoster) {
        throw notInRoster(jid);
      }

      return saveItem(manager, withFields(item, fields));
    });
    const view = toContactView(saved);
    await this.push(owner.jid, view);

    return view;
  }

  /** Refuses a new item when the owner's roster is full (CONTACTS_MAX_PER_USER). */
  async assertRoom(manager: EntityManager, ownerId: string): Promise<void> {
    if ((await countItems(manager, ownerId, true)) >= this.config.contacts.maxPerUser) {
      throw new AppError('contacts-limit-reached', {
        detail: `a roster holds at most ${this.config.contacts.maxPerUser} contacts (CONTACTS_MAX_PER_USER)`,
      });
    }
  }

  /** Tells every session of the owner about an item that changed or went away. */
  async push(ownerJid: string, view: ContactView | { readonly removed: string }): Promise<void> {
    const delivery =
      'removed' in view
        ? { event: 'contact:removed' as const, data: { jid: view.removed } }
        : { event: 'contact' as const, data: view };
    // The change is committed; a client that misses the push sees it in its next roster fetch.
    await this.router
      .deliver(ownerJid, delivery)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'roster push failed'));
  }

  /** Tells the owner's sessions what a contact sent them (an XMPP client shows it as a presence stanza). */
  async pushRequest(ownerJid: string, request: SubscriptionRequestView): Promise<void> {
    await this.router
      .deliver(ownerJid, { event: 'subscription', data: request })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'subscription push failed'));
  }

  /** Read on every login and presence change: plain SQL, no query builder. */
  private async jidsWith(ownerId: string, subscriptions: string[]): Promise<string[]> {
    const rows = await queryPrepared<{ jid: string }>(
      this.dataSource.manager,
      'contacts-with-subscription',
      'SELECT jid FROM contacts WHERE owner_id = $1 AND subscription = ANY($2::text[])',
      [ownerId, subscriptions],
    );

    return rows.map((row) => row.jid);
  }
}

export function notInRoster(jid: string): AppError {
  return new AppError('not-found', { detail: `${jid} is not in your contacts` });
}

function withFields(item: RosterItem, fields: ItemFields): RosterItem {
  return {
    ...item,
    ...(fields.name === undefined ? {} : { name: fields.name }),
    ...(fields.groups === undefined ? {} : { groups: [...new Set(fields.groups)] }),
  };
}
