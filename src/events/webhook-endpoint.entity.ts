import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

@Entity({ name: 'webhook_endpoints' })
export class WebhookEndpointEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'webhook_endpoints_pkey' })
  id: string;

  @Column({ type: 'text' })
  url: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** Event type patterns: `message.created`, `message.*`, `*`. */
  @Column({ type: 'text', array: true })
  events: string[];

  /** Domains covered; empty covers all. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  domains: string[];

  /** Extra request headers. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  headers: Record<string, string>;

  @Column({ type: 'text' })
  secret: string;

  /** The secret before the last rotation, still signed with until `previous_secret_expires_at`. */
  @Column({ name: 'previous_secret', type: 'text', nullable: true })
  previousSecret: string | null;

  @Column({ name: 'previous_secret_expires_at', type: 'timestamptz', nullable: true })
  previousSecretExpiresAt: Date | null;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ name: 'disabled_reason', type: 'text', nullable: true })
  disabledReason: string | null;

  /** Deliveries of one conversation go out one at a time, in sequence order. */
  @Column({ type: 'boolean', default: true })
  ordered: boolean;

  @Column({ name: 'max_concurrency', type: 'integer', default: 4 })
  maxConcurrency: number;

  /** `custom` endpoints come from the admin API; the `forward` endpoint from WEBHOOK_FORWARD_URL. */
  @Column({ type: 'text', default: 'custom' })
  kind: 'custom' | 'forward';

  @Column({ name: 'failing_since', type: 'timestamptz', nullable: true })
  failingSince: Date | null;

  @Column({ name: 'last_success_at', type: 'timestamptz', nullable: true })
  lastSuccessAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
