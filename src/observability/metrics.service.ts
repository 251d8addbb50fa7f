import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  /** Accepted messages by source, copied into the counter when it is scraped (see deliveryCounts). */
  private readonly acceptedCounts = new Map<string, number>();

  private readonly messagesAccepted = new Counter({
    name: 'relay_messages_accepted_total',
    help: 'Messages committed to the archive',
    labelNames: ['source'] as const,
    registers: [this.registry],
    collect: () => {
      this.messagesAccepted.reset();
      for (const [source, count] of this.acceptedCounts) {
        this.messagesAccepted.inc({ source }, count);
      }
    },
  });

  /**
   * Deliveries by transport, then event: plain numbers, copied into the
   * counter when it is scraped. A labelled `inc` per delivery (a label hash
   * built and looked up each time) cost more than the rest of the count.
   */
  private readonly deliveryCounts = new Map<string, Map<string, number>>();

  private readonly deliveries = new Counter({
    name: 'relay_deliveries_total',
    help: 'Events handed to live sessions on this node',
    labelNames: ['transport', 'event'] as const,
    registers: [this.registry],
    collect: () => {
      this.deliveries.reset();
      for (const [transport, byEvent] of this.deliveryCounts) {
        for (const [event, count] of byEvent) {
          this.deliveries.inc({ transport, event }, count);
        }
      }
    },
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

  /** One message committed to the archive, sent from `source`. */
  accepted(source: string): void {
    this.acceptedCounts.set(source, (this.acceptedCounts.get(source) ?? 0) + 1);
  }

  /** One event handed to a live session here. */
  delivered(transport: string, event: string): void {
    let byEvent = this.deliveryCounts.get(transport);
    if (byEvent === undefined) {
      byEvent = new Map();
      this.deliveryCounts.set(transport, byEvent);
    }
    byEvent.set(event, (byEvent.get(event) ?? 0) + 1);
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}
