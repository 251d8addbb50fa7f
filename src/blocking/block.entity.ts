import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/** A JID (a bare user JID or a whole domain) that `owner` blocks (XEP-0191). */
@Entity({ name: 'blocks' })
@Index('blocks_jid_idx', ['jid'])
export class BlockEntity {
  @PrimaryColumn({ name: 'owner_id', type: 'uuid', primaryKeyConstraintName: 'blocks_pkey' })
  ownerId: string;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'blocks_pkey' })
  jid: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'blocks_owner_id_fkey' })
  owner?: UserEntity;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
