import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';

import { DomainEntity } from '#src/accounts/domain.entity.js';

@Entity({ name: 'users' })
@Index('users_domain_username_key', ['domain', 'username'], { unique: true })
export class UserEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'users_pkey' })
  id: string;

  /** Normalized localpart (RFC 7622 section 3.3). */
  @Column({ type: 'text' })
  username: string;

  @Column({ type: 'text' })
  domain: string;

  @ManyToOne(() => DomainEntity, { onDelete: 'CASCADE' })
  @JoinColumn({
    name: 'domain',
    referencedColumnName: 'name',
    foreignKeyConstraintName: 'users_domain_fkey',
  })
  domainRef?: DomainEntity;

  /** argon2id, PHC string format. */
  @Column({ name: 'password_hash', type: 'text' })
  passwordHash: string;

  /** RFC 5802 keys for SCRAM-SHA-1, as `iterations:salt:storedKey:serverKey` in base64. */
  @Column({ name: 'scram_sha1', type: 'text' })
  scramSha1: string;

  /** RFC 7677 keys for SCRAM-SHA-256, same layout. */
  @Column({ name: 'scram_sha256', type: 'text' })
  scramSha256: string;

  /** Bumped on every password change, so cached credentials and tokens of the old one stop working. */
  @Column({ name: 'credential_version', type: 'integer', default: 1 })
  credentialVersion: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  get jid(): string {
    return `${this.username}@${this.domain}`;
  }
}
