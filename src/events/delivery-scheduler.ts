import { Logger } from '@nestjs/common';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

/** A job says "this endpoint may have deliveries due": the dispatcher claims whatever is due. */
export interface EndpointWakeJob {
  readonly endpointId: string;
}

export type WakeHandler = (endpointId: string) => void;

export const WEBHOOK_QUEUE = 'webhook-deliveries';

/** Delayed wakes are rounded up to this step, so retries due together share one job. */
const DELAY_STEP_MS = 100;

/** Wake jobs only hand over to the dispatcher, which returns at once; a few at a time suffice. */
const WORKER_CONCURRENCY = 4;

/** The due time of a delayed wake, rounded up to the step, so the wake never comes early. */
function dueStep(delayMs: number): number {
  return Math.ceil((Date.now() + delayMs) / DELAY_STEP_MS);
}

/**
 * Wakes endpoints at the right time: on a BullMQ queue in Redis (any node's
 * worker may take a job), or in process without Redis. A job carries no
 * delivery; the database rows are the truth about what is due, so a lost or
 * repeated job costs a wasted look (and the relay's sweep finds what a lost
 * job left), never a lost or doubled send.
 */
export abstract class DeliveryScheduler {
  protected handler: WakeHandler = () => undefined;

  /** Starts running wakes with `handler`, unless this node runs no workers. */
  abstract start(handler: WakeHandler, runWorkers: boolean): Promise<void>;
  /** Wakes the endpoint's dispatcher after `delayMs` (at once for 0). */
  abstract wake(endpointId: string, delayMs: number): Promise<void>;
  abstract close(): Promise<void>;
}

export class BullMqDeliveryScheduler extends DeliveryScheduler {
  private readonly logger = new Logger('WebhookQueue');
  readonly queue: Queue<EndpointWakeJob>;
  private worker?: Worker<EndpointWakeJob>;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {
    super();
    this.queue = new Queue<EndpointWakeJob>(WEBHOOK_QUEUE, {
      connection,
      prefix: `${prefix}bull`,
    });
  }

  async start(handler: WakeHandler, runWorkers: boolean): Promise<void> {
    this.handler = handler;
    if (!runWorkers) {
      return;
    }
    this.worker = new Worker<EndpointWakeJob>(
      WEBHOOK_QUEUE,
      async (job: Job<EndpointWakeJob>) => this.handler(job.data.endpointId),
      {
        // A worker blocks its connection; it gets its own.
        connection: this.connection.duplicate({ maxRetriesPerRequest: null }),
        prefix: `${this.prefix}bull`,
        concurrency: WORKER_CONCURRENCY,
      },
    );
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'webhook worker error'));
  }

  async wake(endpointId: string, delayMs: number): Promise<void> {
    if (delayMs <= 0 && this.worker !== undefined) {
      // This node works the endpoint itself: no round trip through Redis for what is due now.
      this.handler(endpointId);

      return;
    }
    if (delayMs <= 0) {
      // No id: a job of the same id still running elsewhere must not swallow this wake.
      await this.queue.add('wake', { endpointId }, { removeOnComplete: true, removeOnFail: 1000 });

      return;
    }
    const step = dueStep(delayMs);
    // Retries due in the same step share a job: adding one that exists is a no-op.
    await this.queue.add(
      'wake',
      { endpointId },
      {
        jobId: `${endpointId}-${step}`,
        delay: step * DELAY_STEP_MS - Date.now(),
        removeOnComplete: true,
        removeOnFail: 1000,
      },
    );
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}

/** Without Redis: timers in this process, the same handler. */
export class InProcessDeliveryScheduler extends DeliveryScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private enabled = false;
  private closed = false;

  async start(handler: WakeHandler, runWorkers: boolean): Promise<void> {
    this.handler = handler;
    this.enabled = runWorkers;
  }

  async wake(endpointId: string, delayMs: number): Promise<void> {
    if (!this.enabled || this.closed) {
      return;
    }
    if (delayMs <= 0) {
      this.handler(endpointId);

      return;
    }
    const step = dueStep(delayMs);
    const key = `${endpointId}-${step}`;
    if (this.timers.has(key)) {
      return;
    }
    this.timers.set(
      key,
      setTimeout(
        () => {
          this.timers.delete(key);
          this.handler(endpointId);
        },
        step * DELAY_STEP_MS - Date.now(),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
  }
}
