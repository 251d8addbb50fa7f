import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';

import { DomainEntity } from '#src/accounts/domain.entity.js';
import type { RoomPermission } from '#src/rooms/room-rules.js';

/**
 * A group conversation. Its id is unique on the server (chosen by the
 * creator or generated), so one path names it for members of any domain;
 * it lives in its creator's domain, which its events carry.
 */
@Entity({ name: 'rooms' })
@Index('rooms_domain_idx', ['domain', 'id'])
export class RoomEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'rooms_pkey' })
  id: string;

  @Column({ type: 'text' })
  domain: string;

  @ManyToOne(() => DomainEntity, { onDelete: 'CASCADE' })
  @JoinColumn({
    name: 'domain',
    referencedColumnName: 'name',
    foreignKeyConstraintName: 'rooms_domain_fkey',
  })
  domainRef?: DomainEntity;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: '' })
  subject: string;

  /** Who may change the name and subject: `owners` or `members`. */
  @Column({ name: 'configure_by', type: 'text', default: 'owners' })
  configureBy: RoomPermission;

  /** Who may add members. */
  @Column({ name: 'invite_by', type: 'text', default: 'owners' })
  inviteBy: RoomPermission;

  /** Who may remove other members (an owner is only ever removed by an owner). */
  @Column({ name: 'remove_by', type: 'text', default: 'owners' })
  removeBy: RoomPermission;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
