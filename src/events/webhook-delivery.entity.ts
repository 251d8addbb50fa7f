import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';

import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';

export type DeliveryStatus = 'pending' | 'succeeded' | 'dead';

/** One event for one endpoint; the source of truth for what is still to be sent. */
@Entity({ name: 'webhook_deliveries' })
@Index('webhook_deliveries_endpoint_event_key', ['endpointId', 'eventId'], { unique: true })
@Index('webhook_deliveries_endpoint_created_idx', ['endpointId', 'createdAt'])
@Index('webhook_deliveries_endpoint_due_idx', ['endpointId', 'nextAttemptAt'], {
  where: "status = 'pending'",
})
@Index('webhook_deliveries_loose_due_idx', ['endpointId', 'nextAttemptAt'], {
  where: "status = 'pending' AND conversation IS NULL",
})
@Index('webhook_deliveries_lane_idx', ['endpointId', 'conversation', 'sequence'], {
  where: "status = 'pending'",
})
export class WebhookDeliveryEntity {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'webhook_deliveries_pkey' })
  id: string;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @ManyToOne(() => WebhookEndpointEntity, { onDelete: 'CASCADE' })
  @JoinColumn({
    name: 'endpoint_id',
    foreignKeyConstraintName: 'webhook_deliveries_endpoint_id_fkey',
  })
  endpoint?: WebhookEndpointEntity;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType: string;

  @Column({ type: 'text', nullable: true })
  conversation: string | null;

  @Column({ type: 'bigint', nullable: true })
  sequence: string | null;

  /** The exact JSON sent and signed. */
  @Column({ type: 'text' })
  body: string;

  @Column({ type: 'text', default: 'pending' })
  status: DeliveryStatus;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt: Date;

  @Column({ name: 'last_status', type: 'integer', nullable: true })
  lastStatus: number | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** One HTTP attempt of a delivery, for the delivery log. */
@Entity({ name: 'webhook_attempts' })
@Index('webhook_attempts_endpoint_started_idx', ['endpointId', 'startedAt'])
@Index('webhook_attempts_delivery_idx', ['deliveryId'])
export class WebhookAttemptEntity {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'webhook_attempts_pkey' })
  id: string;

  @Column({ name: 'delivery_id', type: 'uuid' })
  deliveryId: string;

  @ManyToOne(() => WebhookDeliveryEntity, { onDelete: 'CASCADE' })
  @JoinColumn({
    name: 'delivery_id',
    foreignKeyConstraintName: 'webhook_attempts_delivery_id_fkey',
  })
  delivery?: WebhookDeliveryEntity;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @Column({ type: 'integer' })
  attempt: number;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @Column({ name: 'duration_ms', type: 'integer' })
  durationMs: number;

  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode: number | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** The start of the receiver's answer, bounded by WEBHOOK_RESPONSE_BODY_BYTES. */
  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody: string | null;
}
