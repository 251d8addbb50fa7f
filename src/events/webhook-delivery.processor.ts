import { Injectable, Logger } from '@nestjs/common';

import { messageIds } from '#src/common/ids.js';
import { AppConfig } from '#src/config/app-config.js';
import type { ClaimedDelivery } from '#src/events/delivery-claims.js';
import type { Settlement } from '#src/events/delivery-settler.js';
import { parseRetryAfter } from '#src/events/retry-schedule.js';
import type { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { WebhookHttpClient, type WebhookResponse } from '#src/events/webhook-http-client.js';
import { signatureHeader } from '#src/events/webhook-signature.js';
import { WebhookMetrics } from '#src/events/webhook-metrics.js';

/** What an attempt came to, and what it means for the deliveries after it. */
export type AttemptResult =
  | { readonly kind: 'succeeded' | 'dead'; readonly settlement: Settlement }
  /** To be tried again after `delayMs`; later deliveries of its lane wait for it. */
  | { readonly kind: 'retry'; readonly settlement: Settlement; readonly delayMs: number }
  /** 410 Gone: the endpoint is to be disabled. */
  | { readonly kind: 'gone'; readonly settlement: Settlement };

/**
 * Makes one attempt of one claimed delivery: signs, posts, and turns the
 * answer into the delivery's next state (done, retry, dead letter) by the
 * retry schedule. Writing that state is the settler's job.
 */
@Injectable()
export class WebhookDeliveryProcessor {
  private readonly logger = new Logger('WebhookDelivery');

  constructor(
    private readonly config: AppConfig,
    private readonly client: WebhookHttpClient,
    private readonly metrics: WebhookMetrics,
  ) {}

  async attempt(
    delivery: ClaimedDelivery,
    endpoint: WebhookEndpointEntity,
  ): Promise<AttemptResult> {
    const attempt = delivery.attempts + 1;
    const context = {
      jobId: `${delivery.id}-${attempt}`,
      deliveryId: delivery.id,
      endpoint: endpoint.id,
      attempt,
      requestId: delivery.requestId ?? undefined,
    };
    this.logger.log(context, 'delivery started');
    const startedAt = new Date();
    const response = await this.client.post({
      url: endpoint.url,
      headers: this.headersFor(delivery, endpoint),
      body: delivery.body,
      timeoutMs: this.config.webhooks.timeoutMs,
      maxBodyBytes: this.config.webhooks.responseBodyBytes,
    });
    const classified = classify(response);
    this.metrics.attemptFinished(endpoint.id, classified.label, response.durationMs);
    const result = this.resultOf(delivery, attempt, startedAt, response, classified);
    this.logger.log(
      {
        ...context,
        status: response.status,
        error: response.error,
        durationMs: response.durationMs,
        outcome: result.kind,
      },
      'delivery finished',
    );

    return result;
  }

  private resultOf(
    delivery: ClaimedDelivery,
    attempt: number,
    startedAt: Date,
    response: WebhookResponse,
    classified: Classified,
  ): AttemptResult {
    const retryDelay =
      classified.kind === 'failure'
        ? this.config.webhooks.retrySchedule.delayAfter(attempt, classified.retryAfterMs)
        : undefined;
    const success = classified.kind === 'success';
    const status = success ? 'succeeded' : retryDelay === undefined ? 'dead' : 'pending';
    const settlement: Settlement = {
      attemptId: messageIds.next(),
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      attempt,
      startedAt,
      durationMs: response.durationMs,
      statusCode: response.status ?? null,
      error: response.error ?? (success ? null : `HTTP ${response.status}`),
      responseBody: response.body === '' ? null : response.body,
      status,
      lastError: response.error ?? null,
      nextAttemptAt: new Date(Date.now() + (retryDelay ?? 0)),
      success,
    };
    if (classified.kind === 'gone') {
      return { kind: 'gone', settlement: { ...settlement, status: 'dead' } };
    }
    if (retryDelay !== undefined) {
      return { kind: 'retry', settlement, delayMs: retryDelay };
    }

    return { kind: success ? 'succeeded' : 'dead', settlement };
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
}

type Classified =
  | { kind: 'success'; label: string }
  | { kind: 'gone'; label: string }
  | { kind: 'failure'; label: string; retryAfterMs?: number };

/** 2xx is success; 410 disables the endpoint; 429 and 503 may say when to come back; all else is a failure. */
function classify(response: WebhookResponse): Classified {
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
