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
}
