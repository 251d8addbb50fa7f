import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import { currentRequestId } from '#src/common/request-context.js';
import { AppConfig } from '#src/config/app-config.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { EVENT_VERSIONS, type EventType, type NewEvent } from '#src/events/event-catalogue.js';
import { envelopeParts } from '#src/events/event-envelope.js';

/**
 * The events' sequence numbers and their deliveries in one statement: each
 * conversation advances by its number of events (one upsert per
 * conversation, in conversation order, so concurrent writers lock rows in
 * the same order), its events get the numbers in batch order, and each
 * delivery's body is completed with its event's number. The conversation's
 * row stays locked until the writer commits, so the deliveries of one
 * conversation become visible in sequence order, whichever node wrote them.
 */
const RECORD = `
WITH events AS (
  SELECT * FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS e(id, conversation, n)
), counts AS (
  SELECT conversation, count(*) AS events FROM events WHERE conversation IS NOT NULL GROUP BY conversation
), advanced AS (
  INSERT INTO conversation_sequences (conversation, last_sequence)
  SELECT conversation, events FROM counts ORDER BY conversation
  ON CONFLICT (conversation) DO UPDATE
    SET last_sequence = conversation_sequences.last_sequence + EXCLUDED.last_sequence
  RETURNING conversation, last_sequence
), numbered AS (
  SELECT e.id,
         a.last_sequence - c.events + row_number() OVER (PARTITION BY e.conversation ORDER BY e.n) AS sequence
  FROM events e LEFT JOIN advanced a USING (conversation) LEFT JOIN counts c USING (conversation)
)
INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, conversation, sequence, body, request_id, next_attempt_at)
SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.conversation, n.sequence,
       d.head || COALESCE(n.sequence::text, '') || d.tail, d.request_id, $11
FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
  AS d(id, endpoint_id, event_id, event_type, conversation, head, tail, request_id)
JOIN numbered n ON n.id = d.event_id`;

/** Where a transaction keeps the endpoints it recorded deliveries for, until it commits. */
const RECORDED = 'webhookEndpointsRecorded';

interface NewDeliveryRow {
  readonly id: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly type: EventType;
  readonly conversation: string | null;
  /** The body before and after the sequence number. */
  readonly head: string;
  readonly tail: string;
  readonly requestId: string | null;
}

type RecordedListener = (endpointIds: ReadonlySet<string>) => void;

/**
 * Records events inside the caller's transaction, so an event exists exactly
 * when its write committed: as one delivery row per enabled endpoint that
 * wants it (the delivery table is the outbox; nothing is left to hand on).
 * Conversation events get the next sequence number of their conversation in
 * the same statement. Events no enabled endpoint wants are not written at
 * all. Once the transaction commits, listeners hear which endpoints have new
 * deliveries.
 */
@Injectable()
export class EventRecorder {
  private readonly committedListeners: (() => void)[] = [];
  private readonly recordedListeners: RecordedListener[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly endpoints: EndpointRegistry,
    dataSource: DataSource,
  ) {
    if (config.isEnabled('webhooks')) {
      // Told of every commit and rollback, so a transaction's deliveries are announced once committed.
      dataSource.subscribers.push({
        afterTransactionCommit: ({ queryRunner }) => this.transactionEnded(queryRunner, true),
        afterTransactionRollback: ({ queryRunner }) => this.transactionEnded(queryRunner, false),
      });
    }
  }

  /** The relay listens, to look at the outbox (rows there are leftovers of earlier versions). */
  onCommitted(listener: () => void): void {
    this.committedListeners.push(listener);
  }

  /** Writers call this after the transaction that recorded events has committed. */
  committed(): void {
    this.committedListeners.forEach((listener) => listener());
  }

  /** The relay listens, to wake the endpoints that got deliveries in a transaction just committed. */
  onRecorded(listener: RecordedListener): void {
    this.recordedListeners.push(listener);
  }

  /** Whether events of this type in any of these domains would be recorded; from the cache, no query when warm. */
  async wantsAny(type: EventType, domains: readonly string[]): Promise<boolean> {
    const cached = this.wantsAnyCached(type, domains);
    if (cached !== undefined) {
      return cached;
    }
    for (const domain of new Set(domains)) {
      if (await this.endpoints.anyWants(type, domain)) {
        return true;
      }
    }

    return false;
  }

  /** `wantsAny` without a promise while the endpoints are cached; undefined when they must be read. */
  wantsAnyCached(type: EventType, domains: readonly string[]): boolean | undefined {
    if (!this.config.isEnabled('webhooks')) {
      return false;
    }
    let wanted: boolean | undefined = false;
    for (const domain of domains) {
      const answer = this.endpoints.anyWantsCached(type, domain);
      if (answer === true) {
        return true;
      }
      if (answer === undefined) {
        wanted = undefined;
      }
    }

    return wanted;
  }

  async record(manager: EntityManager, events: readonly NewEvent[]): Promise<number> {
    if (!this.config.isEnabled('webhooks') || events.length === 0) {
      return 0;
    }
    const timestamp = new Date();
    const wanted: { id: string; conversation: string | null }[] = [];
    const deliveries: NewDeliveryRow[] = [];
    const endpointIds = new Set<string>();
    for (const event of events) {
      const endpoints = await this.endpoints.wanting(event.type, event.domain, manager);
      if (endpoints.length === 0) {
        continue;
      }
      const id = messageIds.next();
      const conversation = event.conversation ?? null;
      const { head, tail } = envelopeParts({
        id,
        type: event.type,
        version: EVENT_VERSIONS[event.type],
        domain: event.domain,
        timestamp,
        conversation,
        data: event.data,
      });
      const requestId = event.requestId ?? currentRequestId() ?? null;
      wanted.push({ id, conversation });
      for (const endpoint of endpoints) {
        endpointIds.add(endpoint.id);
        deliveries.push({
          id: messageIds.next(),
          endpointId: endpoint.id,
          eventId: id,
          type: event.type,
          conversation,
          head,
          tail,
          requestId,
        });
      }
    }
    if (wanted.length === 0) {
      return 0;
    }
    await manager.query(RECORD, [
      wanted.map((event) => event.id),
      wanted.map((event) => event.conversation),
      deliveries.map((row) => row.id),
      deliveries.map((row) => row.endpointId),
      deliveries.map((row) => row.eventId),
      deliveries.map((row) => row.type),
      deliveries.map((row) => row.conversation),
      deliveries.map((row) => row.head),
      deliveries.map((row) => row.tail),
      deliveries.map((row) => row.requestId),
      timestamp,
    ]);
    this.announce(manager.queryRunner, endpointIds);

    return wanted.length;
  }

  /** Announced at the commit of the transaction that recorded them, or now outside of one. */
  private announce(queryRunner: QueryRunner | undefined, endpointIds: ReadonlySet<string>): void {
    if (queryRunner?.isTransactionActive !== true) {
      this.recordedListeners.forEach((listener) => listener(endpointIds));

      return;
    }
    const recorded = (queryRunner.data[RECORDED] as Set<string> | undefined) ?? new Set<string>();
    endpointIds.forEach((id) => recorded.add(id));
    queryRunner.data[RECORDED] = recorded;
  }

  private transactionEnded(queryRunner: QueryRunner, committed: boolean): void {
    const recorded = queryRunner.data[RECORDED] as Set<string> | undefined;
    // A savepoint released or rolled back leaves the transaction open: wait for its end.
    if (recorded === undefined || queryRunner.isTransactionActive) {
      return;
    }
    delete queryRunner.data[RECORDED];
    if (committed) {
      this.recordedListeners.forEach((listener) => listener(recorded));
    }
  }
}
