import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import { currentRequestId } from '#src/common/request-context.js';
import { AppConfig } from '#src/config/app-config.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { EVENT_VERSIONS, type EventType, type NewEvent } from '#src/events/event-catalogue.js';

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
    const sequences = await nextSequences(manager, wanted);
    const ids = wanted.map(() => messageIds.next());
    await manager.query(
      `INSERT INTO event_outbox (id, type, version, domain, conversation, sequence, data, request_id)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[], $8::text[])`,
      [
        ids,
        wanted.map((event) => event.type),
        wanted.map((event) => EVENT_VERSIONS[event.type]),
        wanted.map((event) => event.domain),
        wanted.map((event) => event.conversation ?? null),
        sequences,
        wanted.map((event) => JSON.stringify(event.data)),
        wanted.map((event) => event.requestId ?? currentRequestId() ?? null),
      ],
    );

    return wanted.length;
  }
}

/** One upsert for the whole batch: each conversation advances by its number of events, given out in batch order. */
async function nextSequences(
  manager: EntityManager,
  events: readonly NewEvent[],
): Promise<(string | null)[]> {
  const counts = new Map<string, number>();
  for (const event of events) {
    if (event.conversation !== undefined) {
      counts.set(event.conversation, (counts.get(event.conversation) ?? 0) + 1);
    }
  }
  if (counts.size === 0) {
    return events.map(() => null);
  }
  const rows = await manager.query<{ conversation: string; last_sequence: string }[]>(
    `INSERT INTO conversation_sequences (conversation, last_sequence)
     SELECT * FROM unnest($1::text[], $2::bigint[])
     ON CONFLICT (conversation) DO UPDATE SET last_sequence = conversation_sequences.last_sequence + EXCLUDED.last_sequence
     RETURNING conversation, last_sequence`,
    [[...counts.keys()], [...counts.values()]],
  );
  const next = new Map(
    rows.map((row) => [
      row.conversation,
      BigInt(row.last_sequence) - BigInt(counts.get(row.conversation)!) + 1n,
    ]),
  );

  return events.map((event) => {
    if (event.conversation === undefined) {
      return null;
    }
    const sequence = next.get(event.conversation)!;
    next.set(event.conversation, sequence + 1n);

    return sequence.toString();
  });
}
