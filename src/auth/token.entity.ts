import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/** One issued pair of access and refresh tokens. Only SHA-256 digests of the tokens are kept. */
@Entity({ name: 'tokens' })
export class TokenEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'tokens_pkey' })
  id: string;

  @Index('tokens_user_id_idx')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'tokens_user_id_fkey' })
  user?: UserEntity;

  @Index('tokens_access_hash_key', { unique: true })
  @Column({ name: 'access_hash', type: 'bytea' })
  accessHash: Buffer;

  @Index('tokens_refresh_hash_key', { unique: true })
  @Column({ name: 'refresh_hash', type: 'bytea' })
  refreshHash: Buffer;

  @Column({ name: 'access_expires_at', type: 'timestamptz' })
  accessExpiresAt: Date;

  @Column({ name: 'refresh_expires_at', type: 'timestamptz' })
  refreshExpiresAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
