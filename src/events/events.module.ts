import {
  DynamicModule,
  Global,
  Inject,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';

import { AuthModule } from '#src/auth/auth.module.js';
import { AppConfig } from '#src/config/app-config.js';
import { AddressPolicy } from '#src/events/address-policy.js';
import { AdminWebhooksController } from '#src/events/admin-webhooks.controller.js';
import {
  BullMqDeliveryScheduler,
  DeliveryScheduler,
  InProcessDeliveryScheduler,
} from '#src/events/delivery-scheduler.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { OutboxRelay } from '#src/events/outbox-relay.service.js';
import { PresenceEvents } from '#src/events/presence-events.js';
import { WebhookDeliveriesService } from '#src/events/webhook-deliveries.service.js';
import { DeliveryClaims } from '#src/events/delivery-claims.js';
import { DeliverySettler } from '#src/events/delivery-settler.js';
import { WebhookDeliveryProcessor } from '#src/events/webhook-delivery.processor.js';
import { WebhookDispatcher } from '#src/events/webhook-dispatcher.service.js';
import { WebhookEndpointsService } from '#src/events/webhook-endpoints.service.js';
import { WebhookHttpClient } from '#src/events/webhook-http-client.js';
import { WebhookMetrics } from '#src/events/webhook-metrics.js';
import { REDIS } from '#src/redis/redis.module.js';

/** Starts the workers once everything is wired, and stops the queue before Redis closes. */
class DeliveryWorkers implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(DeliveryScheduler) private readonly scheduler: DeliveryScheduler,
    @Inject(WebhookDispatcher) private readonly dispatcher: WebhookDispatcher,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.scheduler.start(
      (endpointId) => this.dispatcher.wake(endpointId),
      this.config.webhooks.workers !== 'off',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.scheduler.close();
    await this.dispatcher.close();
  }

  onApplicationShutdown(): void {}
}

/**
 * Domain events and their webhooks. The recorder is always there, so
 * writers can call it; with the module off it records nothing.
 */
@Global()
@Module({})
export class EventsModule {
  static register(enabled: boolean): DynamicModule {
    const core = [
      EndpointRegistry,
      EventRecorder,
      {
        provide: DeliveryScheduler,
        inject: [AppConfig, REDIS],
        useFactory: (config: AppConfig, redis: Redis | null) =>
          redis === null || config.redis.mode === 'memory'
            ? new InProcessDeliveryScheduler()
            : new BullMqDeliveryScheduler(redis, config.redis.keyPrefix),
      },
      OutboxRelay,
    ];
    if (!enabled) {
      return {
        module: EventsModule,
        providers: [EndpointRegistry, EventRecorder],
        exports: [EventRecorder],
      };
    }

    return {
      module: EventsModule,
      imports: [AuthModule],
      controllers: [AdminWebhooksController],
      providers: [
        ...core,
        {
          provide: AddressPolicy,
          inject: [AppConfig],
          useFactory: (config: AppConfig) => new AddressPolicy(config.webhooks.allowHosts),
        },
        {
          provide: WebhookHttpClient,
          inject: [AddressPolicy],
          useFactory: (policy: AddressPolicy) => new WebhookHttpClient(policy),
        },
        WebhookMetrics,
        WebhookDeliveryProcessor,
        DeliveryClaims,
        DeliverySettler,
        WebhookDispatcher,
        WebhookEndpointsService,
        WebhookDeliveriesService,
        PresenceEvents,
        DeliveryWorkers,
      ],
      exports: [EventRecorder, OutboxRelay, DeliveryScheduler],
    };
  }
}
