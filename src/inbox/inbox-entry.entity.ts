import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * One conversation in a user's inbox, written in the transaction that
 * stores each of its messages: the last message, the unread count, and the
 * user's flags. Ordered by the last message id, a UUIDv7, so the newest
 * activity comes first and the id is an exact paging cursor.
 *
 * The primary key is its only index, and the table keeps half of each page
 * free (migration InboxHotUpdates1764930000000), so the update every message
 * makes is HOT: an index on a column a message changes would end that.
 */
@Entity({ name: 'inbox_entries' })
export class InboxEntryEntity {
  @PrimaryColumn({ name: 'owner_id', type: 'uuid', primaryKeyConstraintName: 'inbox_entries_pkey' })
  ownerId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'inbox_entries_owner_id_fkey' })
  owner?: UserEntity;

  /** `chat` (one-to-one) or `room`. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'inbox_entries_pkey' })
  kind: string;

  /** The peer's bare JID for a chat, the room id for a room. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'inbox_entries_pkey' })
  conversation: string;

  @Column({ name: 'last_message_id', type: 'uuid' })
  lastMessageId: string;

  @Column({ name: 'last_from', type: 'text' })
  lastFrom: string;

  @Column({ name: 'last_body', type: 'text' })
  lastBody: string;

  @Column({ type: 'integer', default: 0 })
  unread: number;

  @Column({ name: 'muted_until', type: 'timestamptz', nullable: true })
  mutedUntil: Date | null;

  @Column({ type: 'boolean', default: false })
  archived: boolean;

  @Column({ type: 'boolean', default: false })
  pinned: boolean;
}
