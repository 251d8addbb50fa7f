import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';
import type { Subscription } from '#src/contacts/subscription-state.js';

/**
 * One roster item: what `owner` keeps about the bare JID `jid`. Subscription
 * and the two pending flags are the RFC 6121 Appendix A state of this side;
 * the other side (when the contact is a user here) has its own row.
 */
@Entity({ name: 'contacts' })
export class ContactEntity {
  @PrimaryColumn({ name: 'owner_id', type: 'uuid', primaryKeyConstraintName: 'contacts_pkey' })
  ownerId: string;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'contacts_pkey' })
  jid: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'contacts_owner_id_fkey' })
  owner?: UserEntity;

  @Column({ type: 'text', nullable: true })
  name: string | null;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  groups: string[];

  @Column({ type: 'text', default: 'none' })
  subscription: Subscription;

  /** The owner asked to see the contact's presence and awaits the answer ("ask" out). */
  @Column({ name: 'pending_out', type: 'boolean', default: false })
  pendingOut: boolean;

  /** The contact asked to see the owner's presence and awaits the owner's answer. */
  @Column({ name: 'pending_in', type: 'boolean', default: false })
  pendingIn: boolean;

  /**
   * False for an item that exists only because the contact's request is
   * waiting: it is dropped again when that request is withdrawn or declined,
   * and it does not count towards CONTACTS_MAX_PER_USER.
   */
  @Column({ name: 'in_roster', type: 'boolean', default: true })
  inRoster: boolean;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
