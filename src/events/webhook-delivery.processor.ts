import { Injectable, Logger } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import { AppConfig } from '#src/config/app-config.js';
import type { AttemptOutcome, DeliveryJob } from '#src/events/delivery-scheduler.js';
import { DeliveryScheduler } from '#src/events/delivery-scheduler.js';
import { parseRetryAfter } from '#src/events/retry-schedule.js';
import {
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
} from '#src/events/webhook-delivery.entity.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { WebhookHttpClient, type WebhookResponse } from '#src/events/webhook-http-client.js';
import { signatureHeader } from '#src/events/webhook-signature.js';
import { WebhookMetrics } from '#src/events/webhook-metrics.js';

/** How long a job waits when its endpoint already has its maximum of requests in flight. */
const BUSY_DELAY_MS = 100;

export type EndpointDisabled = (endpoint: WebhookEndpointEntity, reason: string) => Promise<void>;

/**
 * Makes one delivery attempt: checks the delivery is still due, keeps
 * per-endpoint concurrency and per-conversation order, posts, records the
 * attempt, and decides what comes next (done, retry, dead letter).
 */
@Injectable()
export class WebhookDeliveryProcessor {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly deliveries: Repository<WebhookDeliveryEntity>;
  private readonly inFlight = new Map<string, number>();
  private onDisabled: EndpointDisabled = async () => undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly scheduler: DeliveryScheduler,
    private readonly client: WebhookHttpClient,
    private readonly metrics: WebhookMetrics,
  ) {
    this.deliveries = dataSource.getRepository(WebhookDeliveryEntity);
  }

  whenEndpointDisabled(callback: EndpointDisabled): void {
    this.onDisabled = callback;
  }

  async run(job: DeliveryJob): Promise<AttemptOutcome> {
    const delivery = await this.deliveries.findOne({
      where: { id: job.deliveryId },
      relations: { endpoint: true },
    });
    const endpoint = delivery?.endpoint;
    // Already settled, removed, or an older job for an attempt that was made: nothing to do.
    if (
      delivery === null ||
      endpoint === undefined ||
      delivery.status !== 'pending' ||
      delivery.attempts >= job.attempt
    ) {
      return { kind: 'done' };
    }
    if (!endpoint.enabled) {
      // Left pending: re-enabling the endpoint picks it up again.
      return { kind: 'done' };
    }
    if (
      endpoint.ordered &&
      delivery.conversation !== null &&
      (await this.hasEarlierPending(delivery))
    ) {
      // The earlier delivery, when it settles, schedules this one.
      return { kind: 'done' };
    }
    const running = this.inFlight.get(endpoint.id) ?? 0;
    if (running >= endpoint.maxConcurrency) {
      return { kind: 'later', delayMs: BUSY_DELAY_MS, attempt: job.attempt };
    }
    this.inFlight.set(endpoint.id, running + 1);
    try {
      return await this.attempt(delivery, endpoint, job);
    } finally {
      this.inFlight.set(endpoint.id, (this.inFlight.get(endpoint.id) ?? 1) - 1);
    }
  }

  private async attempt(
    delivery: WebhookDeliveryEntity,
    endpoint: WebhookEndpointEntity,
    job: DeliveryJob,
  ): Promise<AttemptOutcome> {
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
    const next = await this.settle(delivery, endpoint, attempt, startedAt, response, outcome);
    this.logger.log(
      {
        ...context,
        status: response.status,
        error: response.error,
        durationMs: response.durationMs,
        outcome: next.label,
      },
      'delivery finished',
    );

    return next.outcome;
  }

  private headersFor(
    delivery: WebhookDeliveryEntity,
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
    delivery: WebhookDeliveryEntity,
    endpoint: WebhookEndpointEntity,
    attempt: number,
    startedAt: Date,
    response: WebhookResponse,
    result: Classified,
  ): Promise<{ outcome: AttemptOutcome; label: string }> {
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
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(WebhookAttemptEntity, {
        id: messageIds.next(),
        deliveryId: delivery.id,
        endpointId: endpoint.id,
        attempt,
        startedAt,
        durationMs: response.durationMs,
        statusCode: response.status ?? null,
        error: response.error ?? (result.kind === 'success' ? null : `HTTP ${response.status}`),
        responseBody: response.body === '' ? null : response.body,
      });
      await manager.update(
        WebhookDeliveryEntity,
        { id: delivery.id },
        {
          status,
          attempts: attempt,
          lastStatus: response.status ?? null,
          lastError: response.error ?? null,
          nextAttemptAt: new Date(Date.now() + (retryDelay ?? 0)),
        },
      );
      if (result.kind === 'success') {
        await manager.update(
          WebhookEndpointEntity,
          { id: endpoint.id },
          { lastSuccessAt: new Date(), failingSince: null },
        );
      } else {
        await manager.query(
          'UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = $1',
          [endpoint.id],
        );
      }
    });
    if (result.kind === 'gone') {
      await this.onDisabled(endpoint, 'the endpoint answered 410 Gone');
    } else if (result.kind === 'failure' && (await this.failingTooLong(endpoint.id))) {
      await this.onDisabled(
        endpoint,
        `no successful delivery for ${this.config.webhooks.disableAfterMs / 1000} seconds`,
      );
    }
    if (status !== 'pending') {
      await this.scheduleNextInLane(delivery, endpoint);
    }

    return status === 'pending'
      ? { outcome: { kind: 'later', delayMs: retryDelay!, attempt: attempt + 1 }, label: 'retry' }
      : { outcome: { kind: 'done' }, label: status };
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

  private async hasEarlierPending(delivery: WebhookDeliveryEntity): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `SELECT 1 FROM webhook_deliveries
       WHERE endpoint_id = $1 AND conversation = $2 AND status = 'pending' AND sequence < $3 LIMIT 1`,
      [delivery.endpointId, delivery.conversation, delivery.sequence],
    );

    return rows.length > 0;
  }

  /** A settled delivery lets the next one of its conversation go. */
  private async scheduleNextInLane(
    delivery: WebhookDeliveryEntity,
    endpoint: WebhookEndpointEntity,
  ): Promise<void> {
    if (!endpoint.ordered || delivery.conversation === null) {
      return;
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
    if (next !== undefined) {
      await this.scheduler.schedule(
        {
          deliveryId: next.id,
          attempt: next.attempts + 1,
          ...(next.request_id === null ? {} : { requestId: next.request_id }),
        },
        Number(next.wait_ms),
      );
    }
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
