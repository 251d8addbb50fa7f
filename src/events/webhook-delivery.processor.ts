import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import { AppConfig } from '#src/config/app-config.js';
import type { AttemptOutcome, DeliveryJob } from '#src/events/delivery-scheduler.js';
import { DeliveryScheduler } from '#src/events/delivery-scheduler.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { parseRetryAfter } from '#src/events/retry-schedule.js';
import type { WebhookDeliveryEntity } from '#src/events/webhook-delivery.entity.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { WebhookHttpClient, type WebhookResponse } from '#src/events/webhook-http-client.js';
import { signatureHeader } from '#src/events/webhook-signature.js';
import { WebhookMetrics } from '#src/events/webhook-metrics.js';

/** How long a job waits when its endpoint already has its maximum of requests in flight. */
const BUSY_DELAY_MS = 100;

/** Deliveries of one lane run back to back in one job, at most this many. */
const LANE_CHAIN_MAX = 50;

interface Step {
  readonly outcome: AttemptOutcome;
  /** The next delivery of the same conversation, due now. */
  readonly next?: DeliveryJob;
}

const DONE: Step = { outcome: { kind: 'done' } };

interface ClaimedRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  conversation: string | null;
  sequence: string | null;
  body: string;
  attempts: number;
  request_id: string | null;
}

/** A delivery as claimed for one attempt; `attempts` counts those made before it. */
type ClaimedDelivery = Pick<
  WebhookDeliveryEntity,
  'id' | 'endpointId' | 'eventId' | 'conversation' | 'sequence' | 'body' | 'attempts' | 'requestId'
>;

function toClaimed(row: ClaimedRow): ClaimedDelivery {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    conversation: row.conversation,
    sequence: row.sequence,
    body: row.body,
    attempts: row.attempts - 1,
    requestId: row.request_id,
  };
}

export type EndpointDisabled = (endpoint: WebhookEndpointEntity, reason: string) => Promise<void>;

/**
 * Makes one delivery attempt: checks the delivery is still due, keeps
 * per-endpoint concurrency and per-conversation order, posts, records the
 * attempt, and decides what comes next (done, retry, dead letter).
 */
@Injectable()
export class WebhookDeliveryProcessor {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly inFlight = new Map<string, number>();
  private onDisabled: EndpointDisabled = async () => undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly scheduler: DeliveryScheduler,
    private readonly client: WebhookHttpClient,
    private readonly metrics: WebhookMetrics,
    private readonly registry: EndpointRegistry,
  ) {}

  whenEndpointDisabled(callback: EndpointDisabled): void {
    this.onDisabled = callback;
  }

  /**
   * Runs a delivery and then, within the same job, the next ones of its
   * conversation as each settles: an ordered lane advances without a trip
   * through the queue per step.
   */
  async run(job: DeliveryJob): Promise<AttemptOutcome> {
    let current = job;
    for (let step = 0; ; step += 1) {
      const { outcome, next } = await this.runOnce(current);
      if (next === undefined) {
        return outcome;
      }
      if (step >= LANE_CHAIN_MAX) {
        // Leave room for other lanes and endpoints: the rest of the lane goes back to the queue.
        await this.scheduler.schedule(next, 0);

        return outcome;
      }
      current = next;
    }
  }

  private async runOnce(job: DeliveryJob): Promise<Step> {
    const known = job.endpointId === undefined ? undefined : await this.endpointOf(job.endpointId);
    if (known !== undefined && (this.inFlight.get(known.id) ?? 0) >= known.maxConcurrency) {
      return { outcome: { kind: 'later', delayMs: BUSY_DELAY_MS, attempt: job.attempt } };
    }
    // Load and claim in one statement. Only one of two jobs for one attempt (a sweep, a lane and
    // the relay racing) gets the row, and a delivery behind an earlier one of its conversation
    // is not claimed: that one, when it settles, runs this.
    const [rows] = await this.dataSource.query<[ClaimedRow[], number]>(
      `UPDATE webhook_deliveries d SET attempts = d.attempts + 1, updated_at = now()
       WHERE d.id = $1 AND d.status = 'pending' AND d.attempts = $2
         AND (d.conversation IS NULL
              OR NOT (SELECT ordered FROM webhook_endpoints WHERE id = d.endpoint_id)
              OR NOT EXISTS (SELECT 1 FROM webhook_deliveries x
                             WHERE x.endpoint_id = d.endpoint_id AND x.conversation = d.conversation
                               AND x.status = 'pending' AND x.sequence < d.sequence))
       RETURNING d.id, d.endpoint_id, d.event_id, d.conversation, d.sequence, d.body, d.attempts, d.request_id`,
      [job.deliveryId, job.attempt - 1],
    );
    const row = rows[0];
    if (row === undefined) {
      return DONE;
    }
    const delivery = toClaimed(row);
    const endpoint = known ?? (await this.endpointOf(delivery.endpointId));
    const running = endpoint === undefined ? 0 : (this.inFlight.get(endpoint.id) ?? 0);
    if (endpoint === undefined || running >= endpoint.maxConcurrency) {
      // Disabled (re-enabling picks it up again) or busy (try shortly): give the claim back.
      await this.dataSource.query(
        'UPDATE webhook_deliveries SET attempts = attempts - 1 WHERE id = $1 AND attempts = $2',
        [delivery.id, delivery.attempts + 1],
      );

      return endpoint === undefined
        ? DONE
        : { outcome: { kind: 'later', delayMs: BUSY_DELAY_MS, attempt: job.attempt } };
    }
    this.inFlight.set(endpoint.id, running + 1);
    try {
      return await this.attempt(delivery, endpoint, job);
    } finally {
      this.inFlight.set(endpoint.id, (this.inFlight.get(endpoint.id) ?? 1) - 1);
    }
  }

  private async endpointOf(id: string): Promise<WebhookEndpointEntity | undefined> {
    return (await this.registry.enabled()).find((candidate) => candidate.id === id);
  }

  private async attempt(
    delivery: ClaimedDelivery,
    endpoint: WebhookEndpointEntity,
    job: DeliveryJob,
  ): Promise<Step> {
    const attempt = delivery.attempts + 1;
    const context = {
      jobId: `${delivery.id}-${attempt}`,
      deliveryId: delivery.id,
      endpoint: endpoint.id,
      attempt,
      requestId: job.requestId ?? delivery.requestId ?? undefined,
    };
    this.logger.log(context, 'delivery started');
    const startedAt = new Date();
    const response = await this.client.post({
      url: new URL(endpoint.url),
      headers: this.headersFor(delivery, endpoint),
      body: delivery.body,
      timeoutMs: this.config.webhooks.timeoutMs,
      maxBodyBytes: this.config.webhooks.responseBodyBytes,
    });
    const outcome = classify(response);
    this.metrics.attemptFinished(endpoint.id, outcome.label, response.durationMs);
    const settled = await this.settle(delivery, endpoint, attempt, startedAt, response, outcome);
    this.logger.log(
      {
        ...context,
        status: response.status,
        error: response.error,
        durationMs: response.durationMs,
        outcome: settled.label,
      },
      'delivery finished',
    );

    return {
      outcome: settled.outcome,
      ...(settled.next === undefined ? {} : { next: settled.next }),
    };
  }

  private headersFor(
    delivery: ClaimedDelivery,
    endpoint: WebhookEndpointEntity,
  ): Record<string, string> {
    const timestamp = Math.floor(Date.now() / 1000);
    const secrets = [endpoint.secret];
    if (
      endpoint.previousSecret !== null &&
      (endpoint.previousSecretExpiresAt?.getTime() ?? 0) > Date.now()
    ) {
      secrets.push(endpoint.previousSecret);
    }

    return {
      ...endpoint.headers,
      'content-type': 'application/json',
      'user-agent': 'relay-webhooks/1',
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(secrets, delivery.eventId, timestamp, delivery.body),
    };
  }

  private async settle(
    delivery: ClaimedDelivery,
    endpoint: WebhookEndpointEntity,
    attempt: number,
    startedAt: Date,
    response: WebhookResponse,
    result: Classified,
  ): Promise<{ outcome: AttemptOutcome; label: string; next?: DeliveryJob }> {
    const retryDelay =
      result.kind === 'failure'
        ? this.config.webhooks.retrySchedule.delayAfter(attempt, result.retryAfterMs)
        : undefined;
    const status =
      result.kind === 'success'
        ? 'succeeded'
        : result.kind === 'gone' || retryDelay === undefined
          ? 'dead'
          : 'pending';
    // One statement: the attempt, the delivery's new state, and the endpoint's health. The endpoint
    // row is touched only when its health changes (or once a second), not on every delivery, so
    // concurrent deliveries to one endpoint do not queue on its row lock.
    await this.dataSource.query(
      `WITH attempt AS (
         INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, attempt, started_at, duration_ms, status_code, error, response_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ), delivery AS (
         UPDATE webhook_deliveries
         SET status = $10, attempts = $4, last_status = $7, last_error = $11, next_attempt_at = $12, updated_at = now()
         WHERE id = $2
       )
       UPDATE webhook_endpoints SET
         last_success_at = CASE WHEN $13 THEN now() ELSE last_success_at END,
         failing_since = CASE WHEN $13 THEN NULL ELSE COALESCE(failing_since, now()) END
       WHERE id = $3 AND CASE WHEN $13
         THEN failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 second'
         ELSE failing_since IS NULL END`,
      [
        messageIds.next(),
        delivery.id,
        endpoint.id,
        attempt,
        startedAt,
        response.durationMs,
        response.status ?? null,
        response.error ?? (result.kind === 'success' ? null : `HTTP ${response.status}`),
        response.body === '' ? null : response.body,
        status,
        response.error ?? null,
        new Date(Date.now() + (retryDelay ?? 0)),
        result.kind === 'success',
      ],
    );
    if (result.kind === 'gone') {
      await this.onDisabled(endpoint, 'the endpoint answered 410 Gone');
    } else if (result.kind === 'failure' && (await this.failingTooLong(endpoint.id))) {
      await this.onDisabled(
        endpoint,
        `no successful delivery for ${this.config.webhooks.disableAfterMs / 1000} seconds`,
      );
    }
    if (status === 'pending') {
      return {
        outcome: { kind: 'later', delayMs: retryDelay!, attempt: attempt + 1 },
        label: 'retry',
      };
    }
    const next = await this.nextInLane(delivery, endpoint);

    return { outcome: { kind: 'done' }, label: status, ...(next === undefined ? {} : { next }) };
  }

  private async failingTooLong(endpointId: string): Promise<boolean> {
    const rows = await this.dataSource.query<{ failing: boolean }[]>(
      `SELECT failing_since IS NOT NULL AND failing_since < now() - ($2 || ' milliseconds')::interval
              AND (last_success_at IS NULL OR last_success_at < failing_since) AS failing
       FROM webhook_endpoints WHERE id = $1 AND enabled`,
      [endpointId, String(this.config.webhooks.disableAfterMs)],
    );

    return rows[0]?.failing === true;
  }

  /**
   * A settled delivery lets the next one of its conversation go: returned
   * when it is due now (the caller runs it), scheduled when it waits for a retry.
   */
  private async nextInLane(
    delivery: ClaimedDelivery,
    endpoint: WebhookEndpointEntity,
  ): Promise<DeliveryJob | undefined> {
    if (!endpoint.ordered || delivery.conversation === null) {
      return undefined;
    }
    const [next] = await this.dataSource.query<
      { id: string; attempts: number; request_id: string | null; wait_ms: string }[]
    >(
      `SELECT id, attempts, request_id, GREATEST(0, EXTRACT(EPOCH FROM next_attempt_at - now()) * 1000)::bigint AS wait_ms
       FROM webhook_deliveries
       WHERE endpoint_id = $1 AND conversation = $2 AND status = 'pending'
       ORDER BY sequence LIMIT 1`,
      [delivery.endpointId, delivery.conversation],
    );
    if (next === undefined) {
      return undefined;
    }
    const job = {
      deliveryId: next.id,
      endpointId: delivery.endpointId,
      attempt: next.attempts + 1,
      ...(next.request_id === null ? {} : { requestId: next.request_id }),
    };
    if (Number(next.wait_ms) > 0) {
      await this.scheduler.schedule(job, Number(next.wait_ms));

      return undefined;
    }

    return job;
  }
}

type Classified =
  { kind: 'success' } | { kind: 'gone' } | { kind: 'failure'; retryAfterMs?: number };

/** 2xx is success; 410 disables the endpoint; 429 and 503 may say when to come back; all else is a failure. */
function classify(response: WebhookResponse): Classified & { label: string } {
  const status = response.status;
  if (status !== undefined && status >= 200 && status < 300) {
    return { kind: 'success', label: 'success' };
  }
  if (status === 410) {
    return { kind: 'gone', label: 'gone' };
  }
  if (status === 429 || status === 503) {
    const header = response.headers['retry-after'];
    const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);

    return {
      kind: 'failure',
      label: 'failure',
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  return { kind: 'failure', label: response.error === undefined ? 'failure' : 'error' };
}
