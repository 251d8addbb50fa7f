import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager, Repository } from 'typeorm';

import { wants } from '#src/events/endpoint-filter.js';
import type { EventType } from '#src/events/event-catalogue.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { RouterService } from '#src/routing/router.service.js';

/** How long another node's endpoint change may take to be seen here. */
const TTL_MS = 5_000;
/** A cache used when older than this is read again in the background, so that no write waits for it. */
const REFRESH_MS = TTL_MS / 2;

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
  private readonly logger = new Logger('WebhookEndpoints');
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
    const fresh = this.fresh();
    if (fresh !== undefined) {
      return fresh;
    }
    if (manager !== undefined) {
      // Inside a transaction: its own read, on its connection.
      return this.read(manager);
    }

    return this.shared();
  }

  /**
   * The cached endpoints while fresh. Past half their life they are read
   * again in the background, once however often they are asked meanwhile,
   * and serve until they expire: only endpoints unused for a whole time to
   * live are waited for, not a send every five seconds.
   */
  private fresh(): Snapshot | undefined {
    const cache = this.cache;
    const age = cache === undefined ? Infinity : Date.now() - cache.at;
    if (cache === undefined || age > TTL_MS) {
      return undefined;
    }
    if (age >= REFRESH_MS && this.reading === undefined) {
      this.shared().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'webhook endpoints could not be read again'),
      );
    }

    return cache;
  }

  /** One read at a time, shared by everyone asking meanwhile. */
  private shared(): Promise<Snapshot> {
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
    return this.fresh()?.enabled.some((endpoint) => wants(endpoint, type, domain));
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
