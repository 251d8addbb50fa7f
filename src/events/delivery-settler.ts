import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { AppConfig } from '#src/config/app-config.js';
import type { DeliveryStatus } from '#src/events/webhook-delivery.entity.js';

/** The outcome of one attempt, as it is written: the attempt's log row and the delivery's new state. */
export interface Settlement {
  readonly attemptId: string;
  readonly deliveryId: string;
  readonly endpointId: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly statusCode: number | null;
  /** What went wrong, for the attempt's log row. */
  readonly error: string | null;
  readonly responseBody: string | null;
  readonly status: DeliveryStatus;
  /** The transport error, kept on the delivery. */
  readonly lastError: string | null;
  readonly nextAttemptAt: Date;
  readonly success: boolean;
}

type Entry =
  | {
      readonly kind: 'settle';
      readonly settlement: Settlement;
      readonly done: (failingTooLong: boolean) => void;
    }
  | { readonly kind: 'release'; readonly leased: readonly Leased[]; readonly done: () => void };

/** A claimed delivery and the end of its lease, which identifies the claim. */
export interface Leased {
  readonly id: string;
  readonly leaseUntil: number;
}

/**
 * Every attempt's log row, every delivery's new state and each endpoint's
 * health, for all the attempts that finished while the previous statement
 * ran, in one statement. Endpoint rows are touched only when their health
 * changes (or once a second on success), so concurrent deliveries do not
 * queue on an endpoint's row lock. It answers with the endpoints that have
 * failed without a success for longer than allowed (read as they were
 * before the batch, which only matters for an endpoint that was not failing
 * yet, and so not failing for long).
 */
const SETTLE = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::timestamptz[], $6::int[],
                       $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])
    AS i(attempt_id, delivery_id, endpoint_id, attempt, started_at, duration_ms,
         status_code, error, response_body, status, last_error, next_attempt_at)
), delivery AS (
  UPDATE webhook_deliveries d
  SET status = i.status, attempts = i.attempt, last_status = i.status_code, last_error = i.last_error,
      next_attempt_at = i.next_attempt_at, updated_at = now()
  FROM input i WHERE d.id = i.delivery_id
  RETURNING d.id
), attempt AS (
  INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, attempt, started_at, duration_ms, status_code, error, response_body)
  SELECT i.attempt_id, i.delivery_id, i.endpoint_id, i.attempt, i.started_at, i.duration_ms,
         i.status_code, i.error, i.response_body
  FROM input i JOIN delivery x ON x.id = i.delivery_id
), released AS (
  UPDATE webhook_deliveries d SET next_attempt_at = $13
  FROM unnest($14::uuid[], $19::timestamptz[]) AS r(id, lease)
  WHERE d.id = r.id AND d.status = 'pending' AND d.next_attempt_at = r.lease
), outcome AS (
  SELECT * FROM unnest($15::uuid[], $16::boolean[], $17::boolean[]) AS h(endpoint_id, succeeded, failed_last)
), health AS (
  UPDATE webhook_endpoints e SET
    last_success_at = CASE WHEN h.succeeded THEN now() ELSE e.last_success_at END,
    failing_since = CASE WHEN h.failed_last
      THEN COALESCE(CASE WHEN h.succeeded THEN NULL ELSE e.failing_since END, now()) ELSE NULL END
  FROM outcome h
  WHERE e.id = h.endpoint_id AND CASE WHEN h.failed_last
    THEN h.succeeded OR e.failing_since IS NULL
    ELSE e.failing_since IS NOT NULL OR e.last_success_at IS NULL
      OR e.last_success_at < now() - interval '1 second' END
)
SELECT e.id FROM webhook_endpoints e JOIN outcome h ON h.endpoint_id = e.id
WHERE h.failed_last AND NOT h.succeeded AND e.enabled
  AND e.failing_since < now() - ($18 || ' milliseconds')::interval
  AND (e.last_success_at IS NULL OR e.last_success_at <= e.failing_since)`;

/**
 * Writes attempt outcomes and lease releases in batches: while one
 * statement runs, what finishes queues for the next (a group commit). A
 * batch that fails is written again one entry at a time, so one bad entry
 * (its delivery deleted meanwhile) costs only itself; an entry that still
 * fails is logged and left to its lease, which makes it due again.
 */
@Injectable()
export class DeliverySettler {
  private readonly logger = new Logger('WebhookDelivery');
  private queue: Entry[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private writing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * Resolves once the outcome is written (or given up on, and logged), with
   * whether its endpoint has now failed without a success for too long.
   */
  settle(settlement: Settlement): Promise<boolean> {
    const written = new Promise<boolean>((done) =>
      this.queue.push({ kind: 'settle', settlement, done }),
    );

    return this.queued(written);
  }

  /**
   * Claimed deliveries that were not sent: due again at once (a later claim
   * takes them), unless their lease has run out and another claim has them.
   */
  release(leased: readonly Leased[]): Promise<void> {
    if (leased.length === 0) {
      return Promise.resolve();
    }
    const written = new Promise<void>((done) => this.queue.push({ kind: 'release', leased, done }));

    return this.queued(written);
  }

  /** Resolves once everything queued so far is written: a claim then sees the lanes as they are. */
  async flushed(): Promise<void> {
    await this.tail;
  }

  private queued<T>(written: Promise<T>): Promise<T> {
    this.tail = written;
    if (!this.writing) {
      this.writing = true;
      // Started from a microtask, so entries of the same tick go in the same batch.
      queueMicrotask(() => void this.writeAll());
    }

    return written;
  }

  private async writeAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const failing = await this.write(batch);
      for (const entry of batch) {
        if (entry.kind === 'settle') {
          entry.done(failing.has(entry.settlement.endpointId));
        } else {
          entry.done();
        }
      }
    }
    this.writing = false;
  }

  /** Writes the batch; answers with the endpoints failing for too long. */
  private async write(batch: readonly Entry[]): Promise<Set<string>> {
    try {
      const rows = await this.dataSource.query<{ id: string }[]>(
        SETTLE,
        parameters(batch, this.config.webhooks.disableAfterMs),
      );

      return new Set(rows.map((row) => row.id));
    } catch (error: unknown) {
      if (batch.length === 1) {
        this.logger.error(
          { err: error, ...describe(batch[0]!) },
          'could not record a delivery outcome; its lease will make it due again',
        );

        return new Set();
      }
      const failing = new Set<string>();
      for (const entry of batch) {
        (await this.write([entry])).forEach((id) => failing.add(id));
      }

      return failing;
    }
  }
}

function describe(entry: Entry): Record<string, unknown> {
  return entry.kind === 'settle'
    ? { deliveryId: entry.settlement.deliveryId, attempt: entry.settlement.attempt }
    : { released: entry.leased.map((delivery) => delivery.id) };
}

function parameters(batch: readonly Entry[], disableAfterMs: number): unknown[] {
  const settled = batch.flatMap((entry) => (entry.kind === 'settle' ? [entry.settlement] : []));
  const released = batch.flatMap((entry) => (entry.kind === 'release' ? entry.leased : []));
  const health = new Map<string, { succeeded: boolean; failedLast: boolean }>();
  for (const settlement of settled) {
    const previous = health.get(settlement.endpointId);
    health.set(settlement.endpointId, {
      succeeded: (previous?.succeeded ?? false) || settlement.success,
      failedLast: !settlement.success,
    });
  }

  return [
    settled.map((s) => s.attemptId),
    settled.map((s) => s.deliveryId),
    settled.map((s) => s.endpointId),
    settled.map((s) => s.attempt),
    settled.map((s) => s.startedAt),
    settled.map((s) => s.durationMs),
    settled.map((s) => s.statusCode),
    settled.map((s) => s.error),
    settled.map((s) => s.responseBody),
    settled.map((s) => s.status),
    settled.map((s) => s.lastError),
    settled.map((s) => s.nextAttemptAt),
    new Date(),
    released.map((delivery) => delivery.id),
    [...health.keys()],
    [...health.values()].map((h) => h.succeeded),
    [...health.values()].map((h) => h.failedLast),
    String(disableAfterMs),
    released.map((delivery) => new Date(delivery.leaseUntil)),
  ];
}
