import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * Where a user's offline messages start: received messages after `since`
 * reached no available session (OfflineMarks). No row: every unread message
 * counts; NULL: taken, nothing waits.
 */
@Entity({ name: 'offline_marks' })
export class OfflineMarkEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'offline_marks_pkey' })
  userId: string;

  @OneToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'offline_marks_user_id_fkey' })
  user?: UserEntity;

  @Column({ type: 'timestamptz', nullable: true })
  since: Date | null;
}
