import type { EntityManager } from 'typeorm';

import { ContactEntity } from '#src/contacts/contact.entity.js';
import {
  NO_SUBSCRIPTION,
  stateName,
  type SubscriptionState,
} from '#src/contacts/subscription-state.js';

/** One side's roster item as a write sees it; `exists` says whether a row is stored. */
export interface RosterItem extends SubscriptionState {
  readonly ownerId: string;
  readonly jid: string;
  readonly exists: boolean;
  readonly inRoster: boolean;
  readonly name: string | null;
  readonly groups: string[];
}

/**
 * Serializes roster writes of these users (in a fixed order, so two writers
 * never wait on each other crosswise): both sides of a subscription change,
 * and the size limits, stay consistent under concurrent requests.
 */
export async function lockRosters(
  manager: EntityManager,
  ownerIds: readonly (string | undefined)[],
): Promise<void> {
  const ids = [...new Set(ownerIds.filter((id): id is string => id !== undefined))].sort();
  for (const id of ids) {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('roster:' || $1, 0))`, [id]);
  }
}

export async function loadItem(
  manager: EntityManager,
  ownerId: string,
  jid: string,
): Promise<RosterItem> {
  const row = await manager.findOneBy(ContactEntity, { ownerId, jid });
  if (row === null) {
    return {
      ownerId,
      jid,
      exists: false,
      inRoster: false,
      name: null,
      groups: [],
      ...NO_SUBSCRIPTION,
    };
  }

  return {
    ownerId,
    jid,
    exists: true,
    inRoster: row.inRoster,
    name: row.name,
    groups: row.groups,
    subscription: row.subscription,
    pendingOut: row.pendingOut,
    pendingIn: row.pendingIn,
  };
}

/** An item that only held a request and holds nothing any more is not kept. */
export function isEmpty(item: RosterItem): boolean {
  return !item.inRoster && stateName(item) === 'none';
}

export function sameItem(a: RosterItem, b: RosterItem): boolean {
  return (
    a.exists === b.exists &&
    a.inRoster === b.inRoster &&
    a.subscription === b.subscription &&
    a.pendingOut === b.pendingOut &&
    a.pendingIn === b.pendingIn &&
    a.name === b.name &&
    a.groups.length === b.groups.length &&
    a.groups.every((group, index) => group === b.groups[index])
  );
}

/** Stores the item, or deletes its row when it is empty; returns it as now stored. */
export async function saveItem(manager: EntityManager, item: RosterItem): Promise<RosterItem> {
  if (isEmpty(item)) {
    if (item.exists) {
      await manager.delete(ContactEntity, { ownerId: item.ownerId, jid: item.jid });
    }

    return { ...item, exists: false };
  }
  await manager.query(
    `INSERT INTO contacts (owner_id, jid, name, groups, subscription, pending_out, pending_in, in_roster)
     VALUES ($1, $2, $3, $4::text[], $5, $6, $7, $8)
     ON CONFLICT (owner_id, jid) DO UPDATE SET
       name = EXCLUDED.name, groups = EXCLUDED.groups, subscription = EXCLUDED.subscription,
       pending_out = EXCLUDED.pending_out, pending_in = EXCLUDED.pending_in,
       in_roster = EXCLUDED.in_roster, updated_at = now()`,
    [
      item.ownerId,
      item.jid,
      item.name,
      item.groups,
      item.subscription,
      item.pendingOut,
      item.pendingIn,
      item.inRoster,
    ],
  );

  return { ...item, exists: true };
}

/** Items the owner put in their roster, for CONTACTS_MAX_PER_USER. */
export async function countItems(
  manager: EntityManager,
  ownerId: string,
  inRoster: boolean,
): Promise<number> {
  return manager.countBy(ContactEntity, { ownerId, inRoster });
}
