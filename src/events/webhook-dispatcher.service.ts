import { Injectable, Logger } from '@nestjs/common';

import { AppConfig } from '#src/config/app-config.js';
import { DeliveryClaims, type ClaimedRun, type LaneCursor } from '#src/events/delivery-claims.js';
import { DeliveryScheduler } from '#src/events/delivery-scheduler.js';
import { DeliverySettler } from '#src/events/delivery-settler.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import {
  WebhookDeliveryProcessor,
  type AttemptResult,
} from '#src/events/webhook-delivery.processor.js';
import type { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';

/** Deliveries of one conversation lane taken in one claim and sent back to back, at most this many. */
const LANE_RUN_MAX = 50;

/** After a claim that failed (the database away), the endpoint is looked at again this much later. */
const CLAIM_RETRY_MS = 1000;

/** Resolves once a lane's last outcome is written (wrapped: an async function would wait for it). */
interface LaneFree {
  readonly written: Promise<unknown>;
}

export type EndpointDisabled = (endpoint: WebhookEndpointEntity, reason: string) => Promise<void>;

/** What this node is doing for one endpoint. */
interface EndpointWork {
  readonly id: string;
  /** Claimed runs waiting for one of the endpoint's request slots. */
  queued: ClaimedRun[];
  /** Runs being sent now: at most the endpoint's `max_concurrency`. */
  active: number;
  maxConcurrency: number;
  /** Something may be due that no claim has taken yet. */
  more: boolean;
  claiming: boolean;
  /** Where the next claim starts among the endpoint's lanes, so that they take turns. */
  readonly cursor: LaneCursor;
}

/**
 * Sends each endpoint's due deliveries. A wake (from the relay, a retry's
 * timer or job, a sweep) says an endpoint may have work; this node then
 * claims what is due in one statement (a batch of runs: single deliveries,
 * or stretches of one ordered conversation lane), sends with at most
 * `max_concurrency` requests in flight for that endpoint and
 * WEBHOOK_CONCURRENCY in all, and hands each outcome to the settler, which
 * writes them in batches. A slow or hanging endpoint holds only its own
 * slots: its claims wait for them, and the others' requests go on.
 */
@Injectable()
export class WebhookDispatcher {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly endpoints = new Map<string, EndpointWork>();
  /** Endpoints with a free slot of their own, waiting for one of the node's. */
  private readonly waiting: EndpointWork[] = [];
  private active = 0;
  private closed = false;
  private readonly runs = new Set<Promise<void>>();
  private onDisabled: EndpointDisabled = async () => undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly registry: EndpointRegistry,
    private readonly claims: DeliveryClaims,
    private readonly settler: DeliverySettler,
    private readonly processor: WebhookDeliveryProcessor,
    private readonly scheduler: DeliveryScheduler,
  ) {}

  whenEndpointDisabled(callback: EndpointDisabled): void {
    this.onDisabled = callback;
  }

  /** The endpoint may have deliveries due. */
  wake(endpointId: string): void {
    if (this.closed) {
      return;
    }
    let work = this.endpoints.get(endpointId);
    if (work === undefined) {
      work = {
        id: endpointId,
        queued: [],
        active: 0,
        maxConcurrency: 1,
        more: false,
        claiming: false,
        cursor: { after: '' },
      };
      this.endpoints.set(endpointId, work);
    }
    work.more = true;
    this.pump(work);
  }

  /** Stops claiming, gives back what was claimed and not sent, and waits for requests in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const work of this.endpoints.values()) {
      this.dropQueued(work);
    }
    await Promise.all([...this.runs]);
    await this.settler.flushed();
  }

  /** How long a claim holds its deliveries: room for a wait for a slot and a request timing out. */
  private get leaseMs(): number {
    return Math.max(60_000, 4 * this.config.webhooks.timeoutMs);
  }

  private pump(work: EndpointWork): void {
    this.startRuns(work);
    // Claim again once the runs already claimed would not keep every slot busy.
    if (!this.closed && work.more && !work.claiming && work.queued.length < work.maxConcurrency) {
      void this.claim(work);
    }
  }

  private async claim(work: EndpointWork): Promise<void> {
    work.claiming = true;
    work.more = false;
    try {
      const endpoint = await this.registry.enabledById(work.id);
      if (endpoint === undefined) {
        this.dropQueued(work);
        if (work.active === 0) {
          this.endpoints.delete(work.id);
        }

        return;
      }
      work.maxConcurrency = endpoint.maxConcurrency;
      // A lane whose last outcome is not written yet looks busy here; it is woken once written.
      const wanted = 2 * work.maxConcurrency - work.active - work.queued.length;
      if (wanted <= 0) {
        work.more = true;

        return;
      }
      const runs = await this.claims.claim(
        endpoint,
        wanted,
        LANE_RUN_MAX - 1,
        this.leaseMs,
        work.cursor,
      );
      if (this.closed) {
        void this.settler.release(runs.map((run) => run[0]!));

        return;
      }
      // A full claim may have left more behind.
      work.more ||= runs.length >= wanted;
      work.queued.push(...runs);
    } catch (error: unknown) {
      this.logger.warn({ err: error, endpoint: work.id }, 'could not claim deliveries');
      void this.scheduler.wake(work.id, CLAIM_RETRY_MS).catch(() => undefined);
    } finally {
      work.claiming = false;
    }
    this.pump(work);
  }

  private startRuns(work: EndpointWork): void {
    while (work.queued.length > 0 && work.active < work.maxConcurrency && !this.closed) {
      if (this.active >= this.config.webhooks.concurrency) {
        if (!this.waiting.includes(work)) {
          this.waiting.push(work);
        }

        return;
      }
      const run = work.queued.shift()!;
      work.active += 1;
      this.active += 1;
      const running: Promise<void> = this.send(work, run)
        .then(
          (lane) => {
            // The lane's next deliveries may go once its last outcome is written.
            void lane?.written.then(() => this.wake(work.id));
          },
          (error: unknown) => {
            this.logger.error({ err: error, endpoint: work.id }, 'delivery run failed');
            work.more = true;
          },
        )
        .finally(() => {
          this.runs.delete(running);
          work.active -= 1;
          this.active -= 1;
          this.finished(work);
        });
      this.runs.add(running);
    }
  }

  /** A slot came free: endpoints waiting for one of the node's go first, in turn. */
  private finished(work: EndpointWork): void {
    while (this.waiting.length > 0 && this.active < this.config.webhooks.concurrency) {
      this.startRuns(this.waiting.shift()!);
    }
    this.pump(work);
    if (work.active === 0 && work.queued.length === 0 && !work.more && !work.claiming) {
      this.endpoints.delete(work.id);
    }
  }

  /**
   * Sends a run in order, each delivery once the one before it has its
   * answer. A retry holds back the rest of its lane (they stay where they
   * are, behind it); a dead letter does not. The first delivery's outcome is
   * written last: until then its lease keeps the lane, and so the rest of
   * the run, to this node. For a lane that may have more, answers when the
   * run's last outcome is written: from then on a claim sees the lane free.
   */
  private async send(work: EndpointWork, run: ClaimedRun): Promise<LaneFree | undefined> {
    const head = run[0];
    if (head === undefined) {
      return undefined;
    }
    let ordered = false;
    let written: Promise<unknown> = Promise.resolve();
    let held: { endpoint: WebhookEndpointEntity; result: AttemptResult } | undefined;
    const writeHeld = () => {
      if (held !== undefined) {
        written = this.settle(held.endpoint, held.result);
        held = undefined;
      }
    };
    for (const [index, delivery] of run.entries()) {
      const endpoint = await this.registry.enabledById(work.id);
      ordered = endpoint?.ordered === true;
      const leaseLeft = head.leaseUntil - Date.now();
      if (endpoint === undefined || this.closed || leaseLeft < this.config.webhooks.timeoutMs) {
        // Not sent now: due again at once, for this node or another.
        if (index === 0) {
          written = this.settler.release([head]);
        }
        writeHeld();

        return endpoint === undefined ? undefined : { written };
      }
      const result = await this.processor.attempt(delivery, endpoint);
      if (index === 0 && run.length > 1 && result.kind !== 'retry' && result.kind !== 'gone') {
        held = { endpoint, result };
        continue;
      }
      written = this.settle(endpoint, result);
      if (result.kind === 'retry' || result.kind === 'gone') {
        writeHeld();
        await written;
        if (result.kind === 'gone') {
          await this.disable(endpoint, 'the endpoint answered 410 Gone');
        } else {
          await this.scheduler.wake(work.id, result.delayMs);
        }

        return undefined;
      }
    }
    writeHeld();

    return ordered && head.conversation !== null ? { written } : undefined;
  }

  /** Queues the outcome to be written; an endpoint failing for too long is disabled once it is. */
  private settle(endpoint: WebhookEndpointEntity, result: AttemptResult): Promise<unknown> {
    const written = this.settler.settle(result.settlement);
    if (result.kind !== 'succeeded') {
      void written.then((failing) =>
        failing ? this.disable(endpoint, failingReason(this.config)) : undefined,
      );
    }

    return written;
  }

  private async disable(endpoint: WebhookEndpointEntity, reason: string): Promise<void> {
    const work = this.endpoints.get(endpoint.id);
    if (work !== undefined) {
      this.dropQueued(work);
    }
    await this.onDisabled(endpoint, reason).catch((error: unknown) =>
      this.logger.error({ err: error, endpoint: endpoint.id }, 'could not disable the endpoint'),
    );
  }

  /** Gives back the claimed runs not started: due again (when the endpoint is enabled again). */
  private dropQueued(work: EndpointWork): void {
    const unsent = work.queued.map((run) => run[0]!);
    work.queued = [];
    void this.settler.release(unsent);
  }
}

function failingReason(config: AppConfig): string {
  return `no successful delivery for ${config.webhooks.disableAfterMs / 1000} seconds`;
}
