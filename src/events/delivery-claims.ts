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
 * before it has its answer. Only the first is leased; it holds the lane for
 * the others until the run's outcomes are written.
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
  /** The last lane claimed, in the database's order of conversations. */
  cursor?: string | null;
}

const RETURNED =
  'd.id, d.endpoint_id, d.event_id, d.conversation, d.sequence, d.body, d.attempts, d.request_id';

/**
 * Claims the due deliveries of an ordered endpoint in one statement. A lane
 * (the endpoint's pending deliveries of one conversation) may go when its
 * first pending delivery is due: one that waits for a retry, or is leased
 * to a request in flight, holds the lane. Lanes are found by walking the
 * lane index one conversation at a time (a skip scan), from the conversation
 * after `$5` so that lanes take turns, which costs one probe per lane however
 * many deliveries wait behind each. Deliveries without a conversation come
 * from their own index. A claimed head gets a lease (`next_attempt_at` set
 * to `$3`), so no other claim, here or on another node, takes it meanwhile,
 * and brings the deliveries after it in its lane for as long as they are
 * due, up to `$6`. Those need no lease of their own: the leased head, which
 * stays pending until the whole run is written (see the dispatcher), holds
 * the lane for them. Followers are read only behind heads this statement did
 * claim (an UPDATE re-checks each row as committed), so two claims racing
 * never split a lane between them.
 */
const CLAIM_ORDERED = `
WITH RECURSIVE lanes AS (
  (SELECT x.conversation, x.id, x.sequence, x.next_attempt_at FROM webhook_deliveries x
   WHERE x.endpoint_id = $1 AND x.status = 'pending' AND x.conversation > $5
   ORDER BY x.conversation, x.sequence LIMIT 1)
  UNION ALL
  SELECT n.conversation, n.id, n.sequence, n.next_attempt_at FROM lanes l CROSS JOIN LATERAL (
    SELECT x.conversation, x.id, x.sequence, x.next_attempt_at FROM webhook_deliveries x
    WHERE x.endpoint_id = $1 AND x.status = 'pending' AND x.conversation > l.conversation
    ORDER BY x.conversation, x.sequence LIMIT 1) n
), candidates AS (
  (SELECT id, conversation, sequence, next_attempt_at FROM lanes WHERE next_attempt_at <= $2 LIMIT $4)
  UNION ALL
  (SELECT id, conversation, sequence, next_attempt_at FROM webhook_deliveries
   WHERE endpoint_id = $1 AND status = 'pending' AND conversation IS NULL AND next_attempt_at <= $2
   ORDER BY next_attempt_at LIMIT $4)
), heads AS (
  SELECT c.*, row_number() OVER (ORDER BY c.next_attempt_at, c.id) AS rank
  FROM candidates c ORDER BY c.next_attempt_at, c.id LIMIT $4
), claimed AS (
  UPDATE webhook_deliveries d SET next_attempt_at = $3 FROM heads h
  WHERE d.id = h.id AND d.status = 'pending' AND d.next_attempt_at <= $2
  RETURNING ${RETURNED}, h.rank
), followers AS (
  SELECT f.*, c.rank, bool_and(f.due) OVER (PARTITION BY c.id ORDER BY f.sequence) AS unbroken
  FROM claimed c CROSS JOIN LATERAL (
    SELECT ${RETURNED}, d.next_attempt_at <= $2 AS due FROM webhook_deliveries d
    WHERE c.conversation IS NOT NULL AND d.endpoint_id = $1 AND d.conversation = c.conversation
      AND d.status = 'pending' AND d.sequence > c.sequence
    ORDER BY d.sequence LIMIT $6) f
)
SELECT r.*, (SELECT max(conversation) FROM claimed) AS cursor FROM (
  SELECT * FROM claimed
  UNION ALL
  SELECT id, endpoint_id, event_id, conversation, sequence, body, attempts, request_id, rank
  FROM followers WHERE unbroken) r`;

/** Claims due deliveries of an endpoint without lanes: the oldest due, each on its own. */
const CLAIM_UNORDERED = `
WITH due AS (
  SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
  WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
  ORDER BY d.next_attempt_at, d.id LIMIT $4
  FOR UPDATE OF d SKIP LOCKED
), heads AS (
  SELECT id, row_number() OVER (ORDER BY next_attempt_at, id) AS rank FROM due
)
UPDATE webhook_deliveries d SET next_attempt_at = $3 FROM heads h
WHERE d.id = h.id AND d.status = 'pending' AND d.next_attempt_at <= $2
RETURNING ${RETURNED}, h.rank`;

/** Where an ordered endpoint's next claim starts looking, so its lanes take turns. */
export interface LaneCursor {
  after: string;
}

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
    cursor: LaneCursor = { after: '' },
  ): Promise<ClaimedRun[]> {
    const now = Date.now();
    const leaseUntil = now + leaseMs;
    const times = [new Date(now), new Date(leaseUntil)];
    if (!endpoint.ordered) {
      // An UPDATE statement: TypeORM answers with its rows and their count.
      const [rows] = await this.dataSource.query<[ClaimedRow[], number]>(CLAIM_UNORDERED, [
        endpoint.id,
        ...times,
        heads,
      ]);

      return toRuns(rows, leaseUntil);
    }
    const runs = await this.claimLanes(endpoint.id, times, heads, follow, cursor, leaseUntil);
    if (runs.length < heads && cursor.after !== '') {
      // Round the lanes again from the first: the ones before the cursor had no turn yet.
      cursor.after = '';
      runs.push(
        ...(await this.claimLanes(
          endpoint.id,
          times,
          heads - runs.length,
          follow,
          cursor,
          leaseUntil,
        )),
      );
    }

    return runs;
  }

  private async claimLanes(
    endpointId: string,
    times: readonly Date[],
    heads: number,
    follow: number,
    cursor: LaneCursor,
    leaseUntil: number,
  ): Promise<ClaimedRun[]> {
    const rows = await this.dataSource.query<ClaimedRow[]>(CLAIM_ORDERED, [
      endpointId,
      ...times,
      heads,
      cursor.after,
      follow,
    ]);
    cursor.after = rows[0]?.cursor ?? cursor.after;

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
