import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';

import { MetricsService } from '#src/observability/metrics.service.js';

@Injectable()
export class WebhookMetrics {
  private readonly deliveries: Counter<'endpoint' | 'outcome'>;
  private readonly attemptDuration: Histogram<'endpoint'>;

  constructor(metrics: MetricsService, dataSource: DataSource) {
    const registers = [metrics.registry];
    this.deliveries = new Counter({
      name: 'relay_webhook_attempts_total',
      help: 'Webhook delivery attempts by endpoint and outcome (success, failure, error, gone)',
      labelNames: ['endpoint', 'outcome'] as const,
      registers,
    });
    this.attemptDuration = new Histogram({
      name: 'relay_webhook_attempt_duration_seconds',
      help: 'Time from sending a webhook request to its answer',
      labelNames: ['endpoint'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers,
    });
    new Gauge({
      name: 'relay_webhook_queue_depth',
      help: 'Deliveries waiting to be sent (pending: due, being sent, or waiting for a retry)',
      registers,
      async collect() {
        const [row] = await dataSource.query<{ depth: string }[]>(
          `SELECT count(*) AS depth FROM webhook_deliveries WHERE status = 'pending'`,
        );
        this.set(Number(row?.depth ?? 0));
      },
    });
    new Gauge({
      name: 'relay_webhook_oldest_pending_seconds',
      help: 'Age of the oldest delivery still due to be sent',
      registers,
      async collect() {
        const [row] = await dataSource.query<{ age: string | null }[]>(
          `SELECT EXTRACT(EPOCH FROM now() - min(created_at)) AS age FROM webhook_deliveries WHERE status = 'pending'`,
        );
        this.set(Number(row?.age ?? 0));
      },
    });
  }

  attemptFinished(endpoint: string, outcome: string, durationMs: number): void {
    this.deliveries.inc({ endpoint, outcome });
    this.attemptDuration.observe({ endpoint }, durationMs / 1000);
  }
}
