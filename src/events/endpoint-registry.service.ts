import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager, Repository } from 'typeorm';

import { RefreshingSnapshot } from '#src/common/refreshing-snapshot.js';
import { wants } from '#src/events/endpoint-filter.js';
import type { EventType } from '#src/events/event-catalogue.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { RouterService } from '#src/routing/router.service.js';

/** How long another node's endpoint change may take to be seen here. */
const TTL_MS = 5_000;

interface Snapshot {
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
  /** Read again in the background past half its life, so that no write waits for it. */
  private readonly snapshot: RefreshingSnapshot<Snapshot>;

  constructor(dataSource: DataSource, router: RouterService) {
    this.endpoints = dataSource.getRepository(WebhookEndpointEntity);
    this.snapshot = new RefreshingSnapshot(
      () => this.load(),
      TTL_MS,
      (error: unknown) =>
        this.logger.warn({ err: error }, 'webhook endpoints could not be read again'),
    );
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
    const fresh = this.snapshot.fresh();
    if (fresh !== undefined) {
      return fresh;
    }

    // Inside a transaction, a read of its own on the transaction's connection.
    return manager === undefined
      ? this.snapshot.get()
      : this.snapshot.readWith(() => this.load(manager));
  }

  private async load(manager?: EntityManager): Promise<Snapshot> {
    const repository = manager?.getRepository(WebhookEndpointEntity) ?? this.endpoints;
    const enabled = await repository.findBy({ enabled: true });

    return { enabled, byId: new Map(enabled.map((endpoint) => [endpoint.id, endpoint])) };
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
    return this.snapshot.fresh()?.enabled.some((endpoint) => wants(endpoint, type, domain));
  }

  async anyWants(type: EventType, domain: string, manager?: EntityManager): Promise<boolean> {
    return (await this.enabled(manager)).some((endpoint) => wants(endpoint, type, domain));
  }

  invalidate(): void {
    this.snapshot.invalidate();
  }
}
