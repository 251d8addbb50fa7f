import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, Repository } from 'typeorm';

import { wants } from '#src/events/endpoint-filter.js';
import type { EventType } from '#src/events/event-catalogue.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { RouterService } from '#src/routing/router.service.js';

/** How long another node's endpoint change may take to be seen here. */
const TTL_MS = 5_000;

interface Snapshot {
  readonly at: number;
  readonly enabled: readonly WebhookEndpointEntity[];
  readonly byId: ReadonlyMap<string, WebhookEndpointEntity>;
}

/**
 * The enabled endpoints, cached briefly: asked on every write whether any
 * endpoint wants its events, so that a server with no webhooks pays nothing.
 */
@Injectable()
export class EndpointRegistry {
  private readonly endpoints: Repository<WebhookEndpointEntity>;
  private cache?: Snapshot;
  /** The read in progress, shared by everyone asking meanwhile. */
  private reading?: Promise<Snapshot>;
  /** Counts invalidations, so a read that began before one is not kept as fresh. */
  private generation = 0;

  constructor(dataSource: DataSource, router: RouterService) {
    this.endpoints = dataSource.getRepository(WebhookEndpointEntity);
    router.onNotice((message) => {
      if (message.kind === 'webhooks-changed') {
        this.invalidate();
      }
    });
  }

  /**
   * Inside a transaction, pass its manager: the embedded database has one
   * connection, which the transaction holds, so a query on another would wait forever.
   */
  async enabled(manager?: EntityManager): Promise<readonly WebhookEndpointEntity[]> {
    return (await this.current(manager)).enabled;
  }

  /** The endpoint, if it exists and is enabled. */
  async enabledById(id: string): Promise<WebhookEndpointEntity | undefined> {
    return (await this.current()).byId.get(id);
  }

  private async current(manager?: EntityManager): Promise<Snapshot> {
    if (this.cache !== undefined && Date.now() - this.cache.at <= TTL_MS) {
      return this.cache;
    }
    if (manager !== undefined) {
      // Inside a transaction: its own read, on its connection.
      return this.read(manager);
    }
    if (this.reading === undefined) {
      const reading: Promise<Snapshot> = this.read().finally(() => {
        if (this.reading === reading) {
          this.reading = undefined;
        }
      });
      this.reading = reading;
    }

    return this.reading;
  }

  private async read(manager?: EntityManager): Promise<Snapshot> {
    const generation = this.generation;
    const at = Date.now();
    const repository = manager?.getRepository(WebhookEndpointEntity) ?? this.endpoints;
    const enabled = await repository.findBy({ enabled: true });
    const snapshot = {
      at,
      enabled,
      byId: new Map(enabled.map((endpoint) => [endpoint.id, endpoint])),
    };
    if (generation === this.generation) {
      this.cache = snapshot;
    }

    return snapshot;
  }

  async wanting(
    type: EventType,
    domain: string,
    manager?: EntityManager,
  ): Promise<WebhookEndpointEntity[]> {
    return (await this.enabled(manager)).filter((endpoint) => wants(endpoint, type, domain));
  }

  /** `anyWants` from a fresh cache, without a promise; undefined when the endpoints must be read. */
  anyWantsCached(type: EventType, domain: string): boolean | undefined {
    const cache = this.cache;
    if (cache === undefined || Date.now() - cache.at > TTL_MS) {
      return undefined;
    }

    return cache.enabled.some((endpoint) => wants(endpoint, type, domain));
  }

  async anyWants(type: EventType, domain: string, manager?: EntityManager): Promise<boolean> {
    return (await this.enabled(manager)).some((endpoint) => wants(endpoint, type, domain));
  }

  invalidate(): void {
    this.generation += 1;
    this.cache = undefined;
    this.reading = undefined;
  }
}
