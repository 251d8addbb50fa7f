import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import type { WebhookDeliveryEntity } from '#src/events/webhook-delivery.entity.js';
import type { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';

/** A delivery as claimed for one attempt; `attempts` counts those made before it. */
export interface ClaimedDelivery extends Pick<
  WebhookDeliveryEntity,
  'id' | 'endpointId' | 'eventId' | 'conversation' | 'sequence' | 'body' | 'attempts' | 'requestId'
> {
  /** Until then no other claim takes it (epoch ms); after it, a crash's leftovers are due again. */
  readonly leaseUntil: number;
}

/**
 * What one request slot works through: a single delivery, or the run of an
 * ordered conversation lane, in sequence order, each sent once the one
 * before it has its answer.
 */
export type ClaimedRun = readonly ClaimedDelivery[];

interface ClaimedRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  conversation: string | null;
  sequence: string | null;
  body: string;
  attempts: number;
  request_id: string | null;
  rank: string;
}

/**
 * Claims due deliveries of one endpoint in one statement. A head is a due
 * delivery with no earlier pending one in its conversation lane (for an
 * ordered endpoint); with each head come the deliveries after it in its lane
 * for as long as they are due, up to `follow`. Claiming sets a lease (the
 * row's `next_attempt_at`), so no other claim, on this node or another,
 * takes them while they are worked on. Heads are locked with SKIP LOCKED, so
 * two nodes claiming at once never split a lane between them.
 */
const CLAIM = `
WITH heads AS (
  SELECT d.id, d.conversation, d.sequence, d.next_attempt_at FROM webhook_deliveries d
  WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $3
    AND (NOT $2 OR d.conversation IS NULL OR NOT EXISTS (
      SELECT 1 FROM webhook_deliveries x
      WHERE x.endpoint_id = d.endpoint_id AND x.conversation = d.conversation
        AND x.status = 'pending' AND x.sequence < d.sequence))
  ORDER BY d.next_attempt_at, d.id
  LIMIT $5
  FOR UPDATE OF d SKIP LOCKED
), ranked AS (
  SELECT h.*, row_number() OVER (ORDER BY h.next_attempt_at, h.id) AS rank FROM heads h
), followers AS (
  SELECT f.id, r.rank, bool_and(f.due) OVER (PARTITION BY r.id ORDER BY f.sequence) AS unbroken
  FROM ranked r CROSS JOIN LATERAL (
    SELECT x.id, x.sequence, x.next_attempt_at <= $3 AS due FROM webhook_deliveries x
    WHERE $2 AND r.conversation IS NOT NULL AND x.endpoint_id = $1
      AND x.conversation = r.conversation AND x.status = 'pending' AND x.sequence > r.sequence
    ORDER BY x.sequence
    LIMIT $6) f
), picked AS (
  SELECT id, rank FROM ranked
  UNION ALL
  SELECT id, rank FROM followers WHERE unbroken
)
UPDATE webhook_deliveries d SET next_attempt_at = $4
FROM picked p
WHERE d.id = p.id AND d.status = 'pending' AND d.next_attempt_at <= $3
RETURNING d.id, d.endpoint_id, d.event_id, d.conversation, d.sequence, d.body, d.attempts,
  d.request_id, p.rank`;

@Injectable()
export class DeliveryClaims {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Up to `heads` runs of due deliveries, oldest first. Times are this
   * node's clock, which also wrote every due time, so database and node
   * clocks need not agree.
   */
  async claim(
    endpoint: Pick<WebhookEndpointEntity, 'id' | 'ordered'>,
    heads: number,
    follow: number,
    leaseMs: number,
  ): Promise<ClaimedRun[]> {
    const now = Date.now();
    const leaseUntil = now + leaseMs;
    const [rows] = await this.dataSource.query<[ClaimedRow[], number]>(CLAIM, [
      endpoint.id,
      endpoint.ordered,
      new Date(now),
      new Date(leaseUntil),
      heads,
      follow,
    ]);

    return toRuns(rows, leaseUntil);
  }
}

/** Groups claimed rows into runs: by head, in sequence order within a lane, runs oldest first. */
function toRuns(rows: readonly ClaimedRow[], leaseUntil: number): ClaimedRun[] {
  const runs = new Map<string, ClaimedDelivery[]>();
  for (const row of rows) {
    const run = runs.get(row.rank) ?? [];
    run.push({
      id: row.id,
      endpointId: row.endpoint_id,
      eventId: row.event_id,
      conversation: row.conversation,
      sequence: row.sequence,
      body: row.body,
      attempts: row.attempts,
      requestId: row.request_id,
      leaseUntil,
    });
    runs.set(row.rank, run);
  }

  return [...runs.entries()]
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, run]) => run.sort(bySequence));
}

function bySequence(a: ClaimedDelivery, b: ClaimedDelivery): number {
  const [x, y] = [BigInt(a.sequence ?? 0), BigInt(b.sequence ?? 0)];

  return x < y ? -1 : x > y ? 1 : 0;
}
