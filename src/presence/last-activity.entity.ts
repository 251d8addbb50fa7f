import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/** When a user's last session closed, and the status text it had (XEP-0012 last activity). */
@Entity({ name: 'last_activity' })
export class LastActivityEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'last_activity_pkey' })
  userId: string;

  @OneToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'last_activity_user_id_fkey' })
  user?: UserEntity;

  @Column({ name: 'seen_at', type: 'timestamptz' })
  seenAt: Date;

  @Column({ type: 'text', nullable: true })
  status: string | null;
}
