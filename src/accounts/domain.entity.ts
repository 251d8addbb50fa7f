import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A virtual host the server serves. */
@Entity({ name: 'domains' })
export class DomainEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'domains_pkey' })
  name: string;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
