import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, Repository } from 'typeorm';

import { wants } from '#src/events/endpoint-filter.js';
import type { EventType } from '#src/events/event-catalogue.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { RouterService } from '#src/routing/router.service.js';

/** How long another node's endpoint change may take to be seen here. */
const TTL_MS = 5_000;

/**
 * The enabled endpoints, cached briefly: asked on every write whether any
 * endpoint wants its events, so that a server with no webhooks pays nothing.
 */
@Injectable()
export class EndpointRegistry {
  private readonly endpoints: Repository<WebhookEndpointEntity>;
  private cache?: { readonly at: number; readonly enabled: readonly WebhookEndpointEntity[] };

  constructor(dataSource: DataSource, router: RouterService) {
    this.endpoints = dataSource.getRepository(WebhookEndpointEntity);
    router.onNotice((message) => {
      if (message.kind === 'webhooks-changed') {
        this.cache = undefined;
      }
    });
  }

  /**
   * Inside a transaction, pass its manager: the embedded database has one
   * connection, which the transaction holds, so a query on another would wait forever.
   */
  async enabled(manager?: EntityManager): Promise<readonly WebhookEndpointEntity[]> {
    const now = Date.now();
    if (this.cache === undefined || now - this.cache.at > TTL_MS) {
      const repository = manager?.getRepository(WebhookEndpointEntity) ?? this.endpoints;
      this.cache = { at: now, enabled: await repository.findBy({ enabled: true }) };
    }

    return this.cache.enabled;
  }

  async wanting(
    type: EventType,
    domain: string,
    manager?: EntityManager,
  ): Promise<WebhookEndpointEntity[]> {
    return (await this.enabled(manager)).filter((endpoint) => wants(endpoint, type, domain));
  }

  async anyWants(type: EventType, domain: string, manager?: EntityManager): Promise<boolean> {
    return (await this.enabled(manager)).some((endpoint) => wants(endpoint, type, domain));
  }

  invalidate(): void {
    this.cache = undefined;
  }
}
