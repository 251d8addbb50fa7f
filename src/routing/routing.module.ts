import { Global, Inject, Module } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { AppConfig } from '#src/config/app-config.js';
import { REDIS, openRedis } from '#src/redis/redis.module.js';
import { ClusterBus, LocalClusterBus, RedisClusterBus } from '#src/routing/cluster-bus.js';
import { RouterService } from '#src/routing/router.service.js';
import {
  MemorySessionRegistry,
  RedisSessionRegistry,
  SessionRegistry,
} from '#src/routing/session-registry.js';
import {
  MemoryTransientStore,
  RedisTransientStore,
  TransientStore,
} from '#src/routing/transient-store.js';

@Global()
@Module({
  providers: [
    {
      provide: SessionRegistry,
      inject: [AppConfig, REDIS],
      useFactory: (config: AppConfig, redis: Redis | null) =>
        redis === null || config.redis.mode === 'memory'
          ? new MemorySessionRegistry()
          : new RedisSessionRegistry(
              redis,
              config.nodeId,
              config.sessionTtlSeconds * 1000,
              config.redis.keyPrefix,
            ),
    },
    {
      provide: ClusterBus,
      inject: [AppConfig, REDIS],
      useFactory: async (config: AppConfig, redis: Redis | null) =>
        redis === null || config.redis.mode === 'memory'
          ? new LocalClusterBus()
          : RedisClusterBus.connect(
              redis,
              openRedis(config.redis.url, `relay-${config.nodeId}-bus`),
              config.nodeId,
              config.redis.keyPrefix,
            ),
    },
    {
      provide: TransientStore,
      inject: [AppConfig, REDIS],
      useFactory: (config: AppConfig, redis: Redis | null) =>
        redis === null || config.redis.mode === 'memory'
          ? new MemoryTransientStore()
          : new RedisTransientStore(redis, `${config.redis.keyPrefix}t:`),
    },
    RouterService,
  ],
  exports: [RouterService, TransientStore],
})
export class RoutingModule {
  constructor(@Inject(TransientStore) private readonly store: TransientStore) {}

  onApplicationShutdown(): void {
    if (this.store instanceof MemoryTransientStore) {
      this.store.close();
    }
  }
}
