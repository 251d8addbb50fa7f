import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import { currentRequestId } from '#src/common/request-context.js';
import { AppConfig } from '#src/config/app-config.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { EVENT_VERSIONS, type EventType, type NewEvent } from '#src/events/event-catalogue.js';

/**
 * The events and their sequence numbers in one statement: each conversation
 * advances by its number of events (one upsert per conversation, in
 * conversation order, so concurrent writers lock rows in the same order),
 * and its events get the numbers in batch order.
 */
const RECORD = `
WITH events AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
    WITH ORDINALITY AS e(id, type, version, domain, conversation, data, request_id, n)
), counts AS (
  SELECT conversation, count(*) AS events FROM events WHERE conversation IS NOT NULL GROUP BY conversation
), advanced AS (
  INSERT INTO conversation_sequences (conversation, last_sequence)
  SELECT conversation, events FROM counts ORDER BY conversation
  ON CONFLICT (conversation) DO UPDATE
    SET last_sequence = conversation_sequences.last_sequence + EXCLUDED.last_sequence
  RETURNING conversation, last_sequence
)
INSERT INTO event_outbox (id, type, version, domain, conversation, sequence, data, request_id)
SELECT e.id, e.type, e.version, e.domain, e.conversation,
       a.last_sequence - c.events + row_number() OVER (PARTITION BY e.conversation ORDER BY e.n),
       e.data, e.request_id
FROM events e LEFT JOIN advanced a USING (conversation) LEFT JOIN counts c USING (conversation)`;

/**
 * Writes events into the outbox inside the caller's transaction, so an event
 * exists exactly when its write committed. Conversation events get the next
 * sequence number of their conversation in the same statement batch.
 * Events no enabled endpoint wants are not written at all.
 */
@Injectable()
export class EventRecorder {
  private readonly committedListeners: (() => void)[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly endpoints: EndpointRegistry,
  ) {}

  /** The relay listens, to dispatch what was just committed. */
  onCommitted(listener: () => void): void {
    this.committedListeners.push(listener);
  }

  /** Writers call this after the transaction that recorded events has committed. */
  committed(): void {
    this.committedListeners.forEach((listener) => listener());
  }

  /** Whether events of this type in any of these domains would be recorded; from the cache, no query when warm. */
  async wantsAny(type: EventType, domains: readonly string[]): Promise<boolean> {
    if (!this.config.isEnabled('webhooks')) {
      return false;
    }
    for (const domain of new Set(domains)) {
      if (await this.endpoints.anyWants(type, domain)) {
        return true;
      }
    }

    return false;
  }

  async record(manager: EntityManager, events: readonly NewEvent[]): Promise<number> {
    if (!this.config.isEnabled('webhooks') || events.length === 0) {
      return 0;
    }
    const wanted: NewEvent[] = [];
    for (const event of events) {
      if (await this.endpoints.anyWants(event.type, event.domain, manager)) {
        wanted.push(event);
      }
    }
    if (wanted.length === 0) {
      return 0;
    }
    await manager.query(RECORD, [
      wanted.map(() => messageIds.next()),
      wanted.map((event) => event.type),
      wanted.map((event) => EVENT_VERSIONS[event.type]),
      wanted.map((event) => event.domain),
      wanted.map((event) => event.conversation ?? null),
      wanted.map((event) => JSON.stringify(event.data)),
      wanted.map((event) => event.requestId ?? currentRequestId() ?? null),
    ]);

    return wanted.length;
  }
}
