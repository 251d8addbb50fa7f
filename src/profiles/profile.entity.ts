import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * A user's public profile: what `GET /api/users/{jid}/profile` shows and
 * what XMPP clients read and write as a vCard (XEP-0054). A user without a
 * row has an empty profile.
 */
@Entity({ name: 'profiles' })
export class ProfileEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'profiles_pkey' })
  userId: string;

  @OneToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'profiles_user_id_fkey' })
  user?: UserEntity;

  @Column({ name: 'full_name', type: 'text', nullable: true })
  fullName: string | null;

  @Column({ type: 'text', nullable: true })
  nickname: string | null;

  @Column({ type: 'text', nullable: true })
  email: string | null;

  @Column({ type: 'text', nullable: true })
  url: string | null;

  /** ISO 8601 date, `YYYY-MM-DD`. */
  @Column({ type: 'text', nullable: true })
  birthday: string | null;

  @Column({ type: 'text', nullable: true })
  note: string | null;

  /** The avatar's media type, with `avatar`. */
  @Column({ name: 'avatar_type', type: 'text', nullable: true })
  avatarType: string | null;

  @Column({ type: 'bytea', nullable: true })
  avatar: Buffer | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
