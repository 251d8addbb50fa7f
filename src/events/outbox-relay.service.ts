import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import { AppConfig } from '#src/config/app-config.js';
import { DeliveryScheduler } from '#src/events/delivery-scheduler.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import {
  EVENT_VERSIONS,
  type EventEnvelope,
  type EventType,
  type NewEvent,
} from '#src/events/event-catalogue.js';

interface OutboxRow {
  id: string;
  type: EventType;
  version: number;
  domain: string;
  conversation: string | null;
  sequence: string | null;
  data: EventEnvelope['data'];
  request_id: string | null;
  created_at: Date;
}

interface NewDelivery {
  readonly id: string;
  readonly endpointId: string;
  readonly row: OutboxRow;
  readonly body: string;
}

const BATCH = 500;

/**
 * Hands events on: each outbox row becomes one delivery per endpoint that
 * wants it, and the row is deleted, in one transaction; then the deliveries
 * are scheduled. Runs right after a commit that recorded events, and on a
 * timer, so rows left by a crash are dispatched when the server is back;
 * the timer also reschedules due deliveries whose job was lost.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OutboxRelay');
  private draining?: Promise<void>;
  private again = false;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly endpoints: EndpointRegistry,
    private readonly scheduler: DeliveryScheduler,
    private readonly config: AppConfig,
    recorder: EventRecorder,
  ) {
    recorder.onCommitted(() => this.kick());
  }

  onApplicationBootstrap(): void {
    this.kick();
    // At start, whatever is due goes now: nothing in this process is about to send it.
    void this.sweep(0);
    this.sweeper = setInterval(() => {
      this.kick();
      void this.sweep(this.config.webhooks.sweepMs);
    }, this.config.webhooks.sweepMs).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  /** Drains the outbox soon; calls while a drain runs make it go round once more. */
  kick(): void {
    if (this.draining !== undefined) {
      this.again = true;

      return;
    }
    this.draining = this.drain()
      .catch((error: unknown) => this.logger.error({ err: error }, 'outbox drain failed'))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits for the drain in progress, if any (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.draining !== undefined) {
      await this.draining;
    }
  }

  /** Transient events (presence) skip the outbox and go straight to deliveries. */
  async publishTransient(event: NewEvent): Promise<void> {
    if (!(await this.endpoints.anyWants(event.type, event.domain))) {
      return;
    }
    const row = unrecordedRow(event);
    const deliveries = await this.dataSource.transaction(async (manager) =>
      this.insertDeliveries(manager, [row]),
    );
    await this.scheduleAll(deliveries);
  }

  /** Creates deliveries for an event meant for one endpoint only (the admin's test event). */
  async publishTo(
    endpointId: string,
    event: NewEvent,
  ): Promise<{ eventId: string; deliveryId: string }> {
    const row = unrecordedRow(event);
    const delivery: NewDelivery = {
      id: messageIds.next(),
      endpointId,
      row,
      body: envelopeJson(row),
    };
    await this.dataSource.transaction((manager) => insertDeliveryRows(manager, [delivery]));
    await this.scheduleAll([delivery]);

    return { eventId: row.id, deliveryId: delivery.id };
  }

  private async drain(): Promise<void> {
    for (;;) {
      const deliveries = await this.dataSource.transaction(async (manager) => {
        // Taken and deleted in one statement; the deliveries are written before the commit.
        const [rows] = await manager.query<[OutboxRow[], number]>(
          `DELETE FROM event_outbox WHERE id IN (
             SELECT id FROM event_outbox ORDER BY created_at, id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
           RETURNING id, type, version, domain, conversation, sequence, data, request_id, created_at`,
        );
        if (rows.length === 0) {
          return undefined;
        }
        rows.sort(
          (a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1),
        );
        const created = await this.insertDeliveries(manager, rows);

        return { created, more: rows.length === BATCH };
      });
      if (deliveries === undefined) {
        return;
      }
      await this.scheduleAll(deliveries.created);
      if (!deliveries.more) {
        return;
      }
    }
  }

  private async insertDeliveries(
    manager: EntityManager,
    rows: readonly OutboxRow[],
  ): Promise<NewDelivery[]> {
    const deliveries: NewDelivery[] = [];
    for (const row of rows) {
      const body = envelopeJson(row);
      for (const endpoint of await this.endpoints.wanting(row.type, row.domain, manager)) {
        deliveries.push({
          id: messageIds.next(),
          endpointId: endpoint.id,
          row,
          body,
        });
      }
    }
    await insertDeliveryRows(manager, deliveries);

    return deliveries;
  }

  /** Wakes each endpoint that got deliveries once; its dispatcher claims what may go now. */
  private async scheduleAll(deliveries: readonly NewDelivery[]): Promise<void> {
    await this.wakeAll(new Set(deliveries.map((delivery) => delivery.endpointId)));
  }

  private async wakeAll(endpointIds: Iterable<string>): Promise<void> {
    await Promise.all([...endpointIds].map((id) => this.scheduler.wake(id, 0)));
  }

  /**
   * Wakes the enabled endpoints with deliveries overdue by more than
   * `graceMs`: their wake was lost (a crash, a Redis restart) or their lease
   * ran out (a crash during a request).
   */
  private async sweep(graceMs: number): Promise<void> {
    try {
      const due = await this.dataSource.query<{ endpoint_id: string }[]>(
        `SELECT e.id AS endpoint_id FROM webhook_endpoints e
         WHERE e.enabled AND EXISTS (
           SELECT 1 FROM webhook_deliveries d
           WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at < $1)`,
        [new Date(Date.now() - graceMs)],
      );
      await this.wakeAll(due.map((row) => row.endpoint_id));
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'delivery sweep failed');
    }
  }
}

async function insertDeliveryRows(
  manager: EntityManager,
  deliveries: readonly NewDelivery[],
): Promise<void> {
  if (deliveries.length === 0) {
    return;
  }
  await manager.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, conversation, sequence, body, request_id, next_attempt_at)
     SELECT *, now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
     ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
    [
      deliveries.map((delivery) => delivery.id),
      deliveries.map((delivery) => delivery.endpointId),
      deliveries.map((delivery) => delivery.row.id),
      deliveries.map((delivery) => delivery.row.type),
      deliveries.map((delivery) => delivery.row.conversation),
      deliveries.map((delivery) => delivery.row.sequence),
      deliveries.map((delivery) => delivery.body),
      deliveries.map((delivery) => delivery.row.request_id),
    ],
  );
}

/** An event that goes to deliveries without passing through the outbox. */
function unrecordedRow(event: NewEvent): OutboxRow {
  return {
    id: messageIds.next(),
    type: event.type,
    version: EVENT_VERSIONS[event.type],
    domain: event.domain,
    conversation: null,
    sequence: null,
    data: event.data,
    request_id: event.requestId ?? null,
    created_at: new Date(),
  };
}

/** The JSON body of every delivery of an event. */
export function envelopeJson(row: OutboxRow): string {
  const envelope: EventEnvelope = {
    id: row.id,
    type: row.type,
    timestamp: new Date(row.created_at).toISOString(),
    version: row.version,
    domain: row.domain,
    ...(row.conversation === null || row.sequence === null
      ? {}
      : { conversation: { id: row.conversation, sequence: Number(row.sequence) } }),
    data: row.data,
  };

  return JSON.stringify(envelope);
}
