import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';
import { normalizeDomain } from '#src/common/jid.js';
import { AppConfig } from '#src/config/app-config.js';
import { AddressPolicy, checkWebhookUrl } from '#src/events/address-policy.js';
import { unknownPatterns } from '#src/events/endpoint-filter.js';
import type { CreateWebhookDto, UpdateWebhookDto } from '#src/events/dto/webhooks.dto.js';
import { DeliveryScheduler } from '#src/events/delivery-scheduler.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { OutboxRelay } from '#src/events/outbox-relay.service.js';
import { WebhookDispatcher } from '#src/events/webhook-dispatcher.service.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { generateSecret } from '#src/events/webhook-signature.js';
import { RouterService } from '#src/routing/router.service.js';

/** Headers a receiver relies on, which an endpoint's extra headers may not replace. */
const RESERVED_HEADERS =
  /^(content-type|content-length|host|user-agent|webhook-(id|timestamp|signature)|transfer-encoding|connection)$/i;

const FORWARD_EVENTS = ['message.created', 'room.message_created'];

@Injectable()
export class WebhookEndpointsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');
  private readonly endpoints: Repository<WebhookEndpointEntity>;

  constructor(
    dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly policy: AddressPolicy,
    private readonly registry: EndpointRegistry,
    private readonly relay: OutboxRelay,
    private readonly router: RouterService,
    private readonly scheduler: DeliveryScheduler,
    dispatcher: WebhookDispatcher,
  ) {
    this.endpoints = dataSource.getRepository(WebhookEndpointEntity);
    dispatcher.whenEndpointDisabled((endpoint, reason) => this.disable(endpoint, reason));
  }

  /** WEBHOOK_FORWARD_URL: one endpoint receiving every message, kept in step with the config. */
  async onApplicationBootstrap(): Promise<void> {
    const forward = this.config.webhooks.forward;
    const existing = await this.endpoints.findOneBy({ kind: 'forward' });
    if (forward === undefined) {
      if (existing !== null) {
        await this.endpoints.delete({ id: existing.id });
        await this.changed();
      }

      return;
    }
    const url = await this.checkUrl(forward.url);
    const fields = {
      url,
      events: FORWARD_EVENTS,
      domains: [],
      enabled: true,
      disabledReason: null,
      ...(forward.secret === undefined ? {} : { secret: forward.secret }),
    };
    if (existing === null) {
      await this.endpoints.insert({
        ...fields,
        secret: forward.secret ?? generateSecret(),
        kind: 'forward',
        description: 'WEBHOOK_FORWARD_URL',
      });
    } else {
      await this.endpoints.update({ id: existing.id }, fields);
    }
    await this.changed();
  }

  async create(dto: CreateWebhookDto): Promise<WebhookEndpointEntity> {
    const fields = await this.validate(dto);
    const id = (
      await this.endpoints.insert({
        ...fields,
        url: fields.url!,
        events: fields.events!,
        secret: generateSecret(),
        kind: 'custom',
      })
    ).identifiers[0]!.id as string;
    await this.changed();

    return this.get(id);
  }

  list(): Promise<WebhookEndpointEntity[]> {
    return this.endpoints.find({ order: { createdAt: 'ASC' } });
  }

  async get(id: string): Promise<WebhookEndpointEntity> {
    const endpoint = isUuid(id) ? await this.endpoints.findOneBy({ id }) : null;
    if (endpoint === null) {
      throw new AppError('not-found', { detail: `no webhook endpoint ${id}` });
    }

    return endpoint;
  }

  async update(id: string, dto: UpdateWebhookDto): Promise<WebhookEndpointEntity> {
    const endpoint = await this.get(id);
    const fields = await this.validate(dto);
    const enabling = dto.enabled === true && !endpoint.enabled;
    await this.endpoints.update(
      { id },
      {
        ...fields,
        ...(dto.enabled === false ? { disabledReason: 'disabled by an administrator' } : {}),
        ...(enabling ? { disabledReason: null, failingSince: null } : {}),
      },
    );
    await this.changed();
    if (enabling) {
      // Deliveries that waited while it was off go out now.
      await this.scheduler.wake(id, 0);
    }

    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.endpoints.delete({ id });
    await this.changed();
  }

  async rotateSecret(id: string): Promise<{ secret: string; previousSecretExpiresAt: Date }> {
    const endpoint = await this.get(id);
    const secret = generateSecret();
    const previousSecretExpiresAt = new Date(Date.now() + this.config.webhooks.secretOverlapMs);
    await this.endpoints.update(
      { id },
      { secret, previousSecret: endpoint.secret, previousSecretExpiresAt },
    );
    // Every node signs with both from now on.
    await this.changed();

    return { secret, previousSecretExpiresAt };
  }

  async sendTest(id: string): Promise<{ eventId: string; deliveryId: string }> {
    const endpoint = await this.get(id);

    return this.relay.publishTo(endpoint.id, {
      type: 'webhook.test',
      domain: endpoint.domains[0] ?? this.config.domains[0]!,
      data: { endpoint_id: endpoint.id, message: 'a test event sent from the admin API' },
    });
  }

  private async disable(endpoint: WebhookEndpointEntity, reason: string): Promise<void> {
    const result = await this.endpoints.update(
      { id: endpoint.id, enabled: true },
      { enabled: false, disabledReason: reason },
    );
    if (result.affected === 0) {
      return;
    }
    this.logger.warn({ endpoint: endpoint.id, reason }, 'webhook endpoint disabled');
    await this.changed();
    await this.relay.publishTransient({
      type: 'webhook.endpoint_disabled',
      domain: endpoint.domains[0] ?? this.config.domains[0]!,
      data: { endpoint_id: endpoint.id, url: endpoint.url, reason },
    });
  }

  private async changed(): Promise<void> {
    this.registry.invalidate();
    await this.router.notifyAll({ kind: 'webhooks-changed' });
  }

  private async validate(
    dto: CreateWebhookDto | UpdateWebhookDto,
  ): Promise<Partial<WebhookEndpointEntity>> {
    const fields: Partial<WebhookEndpointEntity> = {};
    const problems: { name: string; reason: string }[] = [];
    if (dto.url !== undefined) {
      try {
        fields.url = await this.checkUrl(dto.url);
      } catch (error: unknown) {
        problems.push({ name: 'url', reason: (error as Error).message });
      }
    }
    if (dto.events !== undefined) {
      const unknown = unknownPatterns(dto.events);
      if (unknown.length > 0) {
        problems.push({ name: 'events', reason: `no such event types: ${unknown.join(', ')}` });
      }
      fields.events = [...new Set(dto.events)];
    }
    if (dto.domains !== undefined) {
      try {
        fields.domains = [...new Set(dto.domains.map((domain) => normalizeDomain(domain)))];
      } catch (error: unknown) {
        problems.push({ name: 'domains', reason: (error as Error).message });
      }
    }
    if (dto.headers !== undefined) {
      const bad = Object.entries(dto.headers).filter(
        ([name, value]) =>
          typeof value !== 'string' ||
          !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(name) ||
          RESERVED_HEADERS.test(name) ||
          /[\r\n\0]/.test(value) ||
          value.length > 1024,
      );
      if (bad.length > 0) {
        problems.push({
          name: 'headers',
          reason: `not allowed: ${bad.map(([name]) => name).join(', ')}`,
        });
      }
      fields.headers = dto.headers;
    }
    if (problems.length > 0) {
      throw new AppError('validation', {
        detail: problems.map((problem) => `${problem.name}: ${problem.reason}`).join('; '),
        fields: problems,
      });
    }

    return {
      ...fields,
      ...(dto.description === undefined ? {} : { description: dto.description }),
      ...(dto.ordered === undefined ? {} : { ordered: dto.ordered }),
      ...(dto.max_concurrency === undefined ? {} : { maxConcurrency: dto.max_concurrency }),
      ...(dto.enabled === undefined ? {} : { enabled: dto.enabled }),
    };
  }

  /** The URL's form, and every address its host has now; connections are checked again when made. */
  private async checkUrl(value: string): Promise<string> {
    const checked = checkWebhookUrl(value, this.config.webhooks.requireHttps);
    if ('problem' in checked) {
      throw new Error(checked.problem);
    }
    const host = checked.url.hostname.replace(/^\[|\]$/g, '');
    if (this.policy.isHostAllowListed(host)) {
      return checked.url.toString();
    }
    const addresses =
      isIP(host) !== 0
        ? [host]
        : (await lookup(host, { all: true }).catch(() => [])).map((entry) => entry.address);
    if (addresses.length === 0) {
      throw new Error(`${host} does not resolve`);
    }
    const refused = addresses.find((address) => !this.policy.permits(address));
    if (refused !== undefined) {
      throw new Error(
        `${host === refused ? host : `${host} (${refused})`} is a private, loopback, link-local or reserved address; allow it with WEBHOOK_ALLOW_HOSTS`,
      );
    }

    return checked.url.toString();
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
