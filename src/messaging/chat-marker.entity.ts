import {
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * How far a user has received, displayed or acknowledged a conversation
 * (XEP-0333): a marker on a message covers every earlier message too, so
 * one row per kind of marker holds the newest message it reached.
 */
@Entity({ name: 'chat_markers' })
@Index('chat_markers_conversation_idx', ['kind', 'conversation'])
export class ChatMarkerEntity {
  @PrimaryColumn({ name: 'owner_id', type: 'uuid', primaryKeyConstraintName: 'chat_markers_pkey' })
  ownerId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'chat_markers_owner_id_fkey' })
  owner?: UserEntity;

  /** `chat` (one-to-one) or `room`. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'chat_markers_pkey' })
  kind: string;

  /** The peer's bare JID for a chat, the room id for a room. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'chat_markers_pkey' })
  conversation: string;

  /** `received`, `displayed` or `acknowledged`. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'chat_markers_pkey' })
  type: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
