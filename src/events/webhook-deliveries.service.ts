import { Injectable } from '@nestjs/common';
import { DataSource, In, Repository } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';
import { DeliveryScheduler } from '#src/events/delivery-scheduler.js';
import type { DeliveryQuery } from '#src/events/dto/webhooks.dto.js';
import {
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
} from '#src/events/webhook-delivery.entity.js';

export interface DeliveryWithLog {
  readonly delivery: WebhookDeliveryEntity;
  readonly attempts: WebhookAttemptEntity[];
}

/** The delivery log of an endpoint, and replays of what failed. */
@Injectable()
export class WebhookDeliveriesService {
  private readonly deliveries: Repository<WebhookDeliveryEntity>;
  private readonly attempts: Repository<WebhookAttemptEntity>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly scheduler: DeliveryScheduler,
  ) {
    this.deliveries = dataSource.getRepository(WebhookDeliveryEntity);
    this.attempts = dataSource.getRepository(WebhookAttemptEntity);
  }

  /** Newest first; the cursor is the id of the last delivery of the previous page. */
  async page(
    endpointId: string,
    query: DeliveryQuery,
  ): Promise<{ items: DeliveryWithLog[]; next?: string }> {
    const limit = query.limit ?? 50;
    const builder = this.deliveries
      .createQueryBuilder('d')
      .where('d.endpoint_id = :endpointId', { endpointId });
    if (query.status !== undefined) {
      builder.andWhere('d.status = :status', { status: query.status });
    }
    if (query.before !== undefined) {
      builder.andWhere('d.id < :before', { before: query.before });
    }
    const rows = await builder
      .orderBy('d.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const page = rows.slice(0, limit);
    const attempts =
      page.length === 0
        ? []
        : await this.attempts.find({
            where: { deliveryId: In(page.map((row) => row.id)) },
            order: { attempt: 'ASC' },
          });
    const byDelivery = new Map<string, WebhookAttemptEntity[]>();
    for (const attempt of attempts) {
      byDelivery.set(attempt.deliveryId, [...(byDelivery.get(attempt.deliveryId) ?? []), attempt]);
    }

    return {
      items: page.map((delivery) => ({ delivery, attempts: byDelivery.get(delivery.id) ?? [] })),
      ...(rows.length > limit ? { next: page.at(-1)!.id } : {}),
    };
  }

  /** One more attempt of a delivery that succeeded or was dead-lettered. */
  async replay(endpointId: string, deliveryId: string): Promise<void> {
    const delivery = await this.deliveries.findOneBy({ id: deliveryId, endpointId });
    if (delivery === null) {
      throw new AppError('not-found', { detail: `no delivery ${deliveryId} for this endpoint` });
    }
    await this.reopen(endpointId, [delivery]);
  }

  /** Every dead-lettered delivery of the endpoint created in the time range. */
  async replayDead(endpointId: string, since: Date, until: Date): Promise<number> {
    const dead = await this.dataSource.query<Pick<WebhookDeliveryEntity, 'id'>[]>(
      `SELECT id FROM webhook_deliveries
       WHERE endpoint_id = $1 AND status = 'dead' AND created_at >= $2 AND created_at < $3`,
      [endpointId, since, until],
    );
    await this.reopen(endpointId, dead);

    return dead.length;
  }

  private async reopen(
    endpointId: string,
    deliveries: readonly Pick<WebhookDeliveryEntity, 'id'>[],
  ): Promise<void> {
    if (deliveries.length === 0) {
      return;
    }
    await this.deliveries.update(
      { id: In(deliveries.map((delivery) => delivery.id)) },
      { status: 'pending', nextAttemptAt: new Date() },
    );
    await this.scheduler.wake(endpointId, 0);
  }
}
