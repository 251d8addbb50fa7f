import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * One side of a one-to-one message: every message is stored once in the
 * sender's archive and once in the recipient's, in the same transaction, so
 * deleting a user removes their side and leaves the other's history intact.
 *
 * The id is a UUIDv7 minted by the server and shared by both sides; its time
 * part is the message timestamp, so there is no separate time column.
 */
@Entity({ name: 'archived_messages' })
@Index('archived_messages_conversation_idx', ['ownerId', 'peer', 'id'])
@Index('archived_messages_thread_idx', ['ownerId', 'thread', 'id'], { where: 'thread IS NOT NULL' })
@Index('archived_messages_client_id_key', ['ownerId', 'clientId'], {
  unique: true,
  where: 'client_id IS NOT NULL',
})
export class ArchivedMessageEntity {
  @PrimaryColumn({
    name: 'owner_id',
    type: 'uuid',
    primaryKeyConstraintName: 'archived_messages_pkey',
  })
  ownerId: string;

  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'archived_messages_pkey' })
  id: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'archived_messages_owner_id_fkey' })
  owner?: UserEntity;

  /** The bare JID of the other side of the conversation. */
  @Column({ type: 'text' })
  peer: string;

  /** True in the sender's archive. */
  @Column({ type: 'boolean' })
  outgoing: boolean;

  @Column({ type: 'text' })
  body: string;

  /** The sender's idempotency key; set only on the sender's side. */
  @Column({ name: 'client_id', type: 'text', nullable: true })
  clientId: string | null;

  /** The message this one answers. */
  @Column({ name: 'reply_to', type: 'uuid', nullable: true })
  replyTo: string | null;

  /** The thread the message belongs to: given by the client, or inherited from `reply_to`. */
  @Column({ type: 'text', nullable: true })
  thread: string | null;

  /** Earlier bodies of an edited message, oldest first: `[{body, replaced_at}]`. */
  @Column({ type: 'jsonb', nullable: true })
  revisions: MessageRevision[] | null;

  @Column({ name: 'edited_at', type: 'timestamptz', nullable: true })
  editedAt: Date | null;

  /** Set when the author retracted the message; the body is then empty. */
  @Column({ name: 'retracted_at', type: 'timestamptz', nullable: true })
  retractedAt: Date | null;
}

export interface MessageRevision {
  readonly body: string;
  /** ISO 8601: when this body was replaced by the next one. */
  readonly replaced_at: string;
}
