import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';

/**
 * One namespaced XML fragment a client keeps on the server for itself
 * (XEP-0049 private XML storage, e.g. XEP-0048 bookmarks): keyed by its
 * namespace, kept as the serialized element, never read by the server.
 */
@Entity({ name: 'private_fragments' })
export class PrivateFragmentEntity {
  @PrimaryColumn({
    name: 'owner_id',
    type: 'uuid',
    primaryKeyConstraintName: 'private_fragments_pkey',
  })
  ownerId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'private_fragments_owner_id_fkey' })
  owner?: UserEntity;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'private_fragments_pkey' })
  namespace: string;

  /** The element's local name, as stored. */
  @Column({ type: 'text' })
  name: string;

  /** The whole element, serialized. */
  @Column({ type: 'text' })
  xml: string;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
