import { Logger } from '@nestjs/common';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

/** What the delivery processor says about one run. */
export type AttemptOutcome =
  | { readonly kind: 'done' }
  /** Try again after this long (a retry by the schedule, or a busy endpoint). */
  | { readonly kind: 'later'; readonly delayMs: number; readonly attempt: number };

export interface DeliveryJob {
  readonly deliveryId: string;
  /** Lets a busy endpoint's jobs wait without a database round trip. */
  readonly endpointId?: string;
  /** The attempt this job makes, from 1. */
  readonly attempt: number;
  readonly requestId?: string;
}

export type DeliveryHandler = (job: DeliveryJob) => Promise<AttemptOutcome>;

export const WEBHOOK_QUEUE = 'webhook-deliveries';

/**
 * Runs delivery attempts at their time: on a BullMQ queue in Redis (any
 * node's worker may take a job), or in process without Redis. The database
 * row is the truth about a delivery; a job only says "look at it now", so a
 * lost or repeated job costs a wasted look, never a lost or doubled send.
 */
export abstract class DeliveryScheduler {
  protected handler: DeliveryHandler = async () => ({ kind: 'done' });

  /** Starts running jobs with `handler`, unless this node runs no workers. */
  abstract start(handler: DeliveryHandler, runWorkers: boolean, concurrency: number): Promise<void>;
  abstract schedule(job: DeliveryJob, delayMs: number): Promise<void>;
  /** Jobs waiting or delayed, for the metrics. */
  abstract depth(): Promise<number>;
  abstract close(): Promise<void>;
}

export class BullMqDeliveryScheduler extends DeliveryScheduler {
  private readonly logger = new Logger('WebhookQueue');
  readonly queue: Queue<DeliveryJob>;
  private worker?: Worker<DeliveryJob>;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {
    super();
    this.queue = new Queue<DeliveryJob>(WEBHOOK_QUEUE, { connection, prefix: `${prefix}bull` });
  }

  async start(handler: DeliveryHandler, runWorkers: boolean, concurrency: number): Promise<void> {
    this.handler = handler;
    if (!runWorkers) {
      return;
    }
    this.worker = new Worker<DeliveryJob>(WEBHOOK_QUEUE, (job, token) => this.run(job, token), {
      // A worker blocks its connection; it gets its own.
      connection: this.connection.duplicate({ maxRetriesPerRequest: null }),
      prefix: `${this.prefix}bull`,
      concurrency,
    });
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'webhook worker error'));
  }

  async schedule(job: DeliveryJob, delayMs: number): Promise<void> {
    // One job per delivery attempt: adding it twice (a sweep after a crash) is a no-op.
    await this.queue.add('deliver', job, {
      jobId: `${job.deliveryId}-${job.attempt}`,
      delay: Math.max(0, delayMs),
      removeOnComplete: true,
      removeOnFail: 1000,
    });
  }

  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'prioritized');

    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }

  private async run(job: Job<DeliveryJob>, token?: string): Promise<void> {
    const outcome = await this.handler(job.data);
    if (outcome.kind === 'later') {
      if (outcome.attempt === job.data.attempt && token !== undefined) {
        // Same attempt, not now (the endpoint is busy): BullMQ's way to postpone a running job.
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      }
      await this.schedule({ ...job.data, attempt: outcome.attempt }, outcome.delayMs);
    }
  }
}

/** Without Redis: timers in this process, the same handler and outcomes. */
export class InProcessDeliveryScheduler extends DeliveryScheduler {
  private readonly logger = new Logger('WebhookQueue');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ready: DeliveryJob[] = [];
  private running = 0;
  private concurrency = 1;
  private enabled = false;
  private closed = false;

  async start(handler: DeliveryHandler, runWorkers: boolean, concurrency: number): Promise<void> {
    this.handler = handler;
    this.enabled = runWorkers;
    this.concurrency = concurrency;
  }

  async schedule(job: DeliveryJob, delayMs: number): Promise<void> {
    const key = `${job.deliveryId}-${job.attempt}`;
    if (!this.enabled || this.closed || this.timers.has(key)) {
      return;
    }
    this.timers.set(
      key,
      setTimeout(
        () => {
          this.timers.delete(key);
          this.ready.push(job);
          this.pump();
        },
        Math.max(0, delayMs),
      ),
    );
  }

  async depth(): Promise<number> {
    return this.timers.size + this.ready.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
    this.ready.length = 0;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0 && !this.closed) {
      const job = this.ready.shift()!;
      this.running += 1;
      this.handler(job)
        .then((outcome) =>
          outcome.kind === 'later'
            ? this.schedule({ ...job, attempt: outcome.attempt }, outcome.delayMs)
            : undefined,
        )
        .catch((error: unknown) =>
          this.logger.error({ err: error, deliveryId: job.deliveryId }, 'delivery job failed'),
        )
        .finally(() => {
          this.running -= 1;
          this.pump();
        });
    }
  }
}
