import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Events recorded in the same transaction as the write they describe. The
 * relay turns each into deliveries and deletes it in one transaction, so a
 * row here is an event not yet handed on: it survives a crash and is
 * dispatched when the server is back.
 */
@Entity({ name: 'event_outbox' })
@Index('event_outbox_created_idx', ['createdAt'])
export class EventOutboxEntity {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'event_outbox_pkey' })
  id: string;

  @Column({ type: 'text' })
  type: string;

  @Column({ type: 'integer' })
  version: number;

  @Column({ type: 'text' })
  domain: string;

  @Column({ type: 'text', nullable: true })
  conversation: string | null;

  @Column({ type: 'bigint', nullable: true })
  sequence: string | null;

  @Column({ type: 'jsonb' })
  data: unknown;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** The last sequence number given in each conversation. */
@Entity({ name: 'conversation_sequences' })
export class ConversationSequenceEntity {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'conversation_sequences_pkey' })
  conversation: string;

  @Column({ name: 'last_sequence', type: 'bigint' })
  lastSequence: string;
}
