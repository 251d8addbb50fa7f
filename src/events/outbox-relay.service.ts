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
import { envelopeJson, type EnvelopeFields } from '#src/events/event-envelope.js';

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
  readonly eventId: string;
  readonly type: EventType;
  readonly conversation: string | null;
  readonly sequence: string | null;
  readonly body: string;
  readonly requestId: string | null;
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
  /** Whether the outbox held rows when last looked at. */
  private outboxInUse = true;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly endpoints: EndpointRegistry,
    private readonly scheduler: DeliveryScheduler,
    private readonly config: AppConfig,
    private readonly recorder: EventRecorder,
  ) {
    recorder.onRecorded((endpointIds) => void this.wakeAll(endpointIds));
    recorder.onCommitted(() => {
      if (this.outboxInUse) {
        this.kick();
      }
    });
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

  /** Transient events (presence), not part of any write: recorded on their own. */
  async publishTransient(event: NewEvent): Promise<void> {
    await this.recorder.record(this.dataSource.manager, [event]);
  }

  /** Creates a delivery for an event meant for one endpoint only (the admin's test event). */
  async publishTo(
    endpointId: string,
    event: NewEvent,
  ): Promise<{ eventId: string; deliveryId: string }> {
    const fields: EnvelopeFields = {
      id: messageIds.next(),
      type: event.type,
      version: EVENT_VERSIONS[event.type],
      domain: event.domain,
      timestamp: new Date(),
      conversation: null,
      data: event.data,
    };
    const delivery: NewDelivery = {
      id: messageIds.next(),
      endpointId,
      eventId: fields.id,
      type: event.type,
      conversation: null,
      sequence: null,
      body: envelopeJson(fields, null),
      requestId: event.requestId ?? null,
    };
    await insertDeliveryRows(this.dataSource.manager, [delivery]);
    await this.wakeAll([endpointId]);

    return { eventId: fields.id, deliveryId: delivery.id };
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
          this.outboxInUse = false;

          return undefined;
        }
        this.outboxInUse = true;
        rows.sort(
          (a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1),
        );
        const created = await this.insertDeliveries(manager, rows);

        return { created, more: rows.length === BATCH };
      });
      if (deliveries === undefined) {
        return;
      }
      await this.wakeAll(new Set(deliveries.created.map((delivery) => delivery.endpointId)));
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
      const fields = { ...row, timestamp: new Date(row.created_at) };
      const body = envelopeJson(fields, row.conversation === null ? null : row.sequence);
      for (const endpoint of await this.endpoints.wanting(row.type, row.domain, manager)) {
        deliveries.push({
          id: messageIds.next(),
          endpointId: endpoint.id,
          eventId: row.id,
          type: row.type,
          conversation: row.conversation,
          sequence: row.sequence,
          body,
          requestId: row.request_id,
        });
      }
    }
    await insertDeliveryRows(manager, deliveries);

    return deliveries;
  }

  /** Wakes each endpoint once; its dispatcher claims what may go now. */
  private async wakeAll(endpointIds: Iterable<string>): Promise<void> {
    await Promise.all([...endpointIds].map((id) => this.scheduler.wake(id, 0))).catch(
      (error: unknown) => this.logger.warn({ err: error }, 'could not wake endpoints'),
    );
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
  // Due now by this node's clock, which claims compare against.
  await manager.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, conversation, sequence, body, request_id, next_attempt_at)
     SELECT *, $9::timestamptz FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
     ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
    [
      deliveries.map((delivery) => delivery.id),
      deliveries.map((delivery) => delivery.endpointId),
      deliveries.map((delivery) => delivery.eventId),
      deliveries.map((delivery) => delivery.type),
      deliveries.map((delivery) => delivery.conversation),
      deliveries.map((delivery) => delivery.sequence),
      deliveries.map((delivery) => delivery.body),
      deliveries.map((delivery) => delivery.requestId),
      new Date(),
    ],
  );
}
