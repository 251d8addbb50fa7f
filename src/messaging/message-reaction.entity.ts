import { CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * One user's emoji on one message. Keyed by the message id alone, which is
 * shared by both sides of a one-to-one message and unique for a room
 * message, so both participants see the same reactions.
 */
@Entity({ name: 'message_reactions' })
@Index('message_reactions_user_id_idx', ['userId'])
export class MessageReactionEntity {
  @PrimaryColumn({
    name: 'message_id',
    type: 'uuid',
    primaryKeyConstraintName: 'message_reactions_pkey',
  })
  messageId: string;

  @PrimaryColumn({
    name: 'user_id',
    type: 'uuid',
    primaryKeyConstraintName: 'message_reactions_pkey',
  })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'message_reactions_user_id_fkey' })
  user?: UserEntity;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'message_reactions_pkey' })
  emoji: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
