import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import { TallyCounter } from '#src/observability/tally-counter.js';

/** Prometheus metrics of this process; one registry per application instance. */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'relay_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly messagesAccepted = new TallyCounter({
    name: 'relay_messages_accepted_total',
    help: 'Messages committed to the archive',
    labelNames: ['source'],
    registry: this.registry,
  });

  readonly deliveries = new TallyCounter({
    name: 'relay_deliveries_total',
    help: 'Events handed to live sessions on this node',
    labelNames: ['transport', 'event'],
    registry: this.registry,
  });

  readonly sessionsOnline = new Gauge({
    name: 'relay_sessions_online',
    help: 'Live sessions held by this node',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly archiveBatchSize = new Histogram({
    name: 'relay_archive_batch_size',
    help: 'Messages committed per archive transaction (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  readonly archiveCommitDuration = new Histogram({
    name: 'relay_archive_commit_seconds',
    help: 'Time from the start of an archive transaction (group commit) until it has committed',
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor() {
    // Includes nodejs_eventloop_lag_seconds and its percentiles.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}
