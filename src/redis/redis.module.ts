import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';

import { AppConfig } from '#src/config/app-config.js';

/** The shared command connection, or null when the server runs without Redis. */
export const REDIS = Symbol('REDIS');

/** Opens a new connection with the server's settings (subscribers need their own). */
export function openRedis(url: string, name: string): Redis {
  const client = new Redis(url, {
    connectionName: name,
    // Commands fail instead of queueing forever while Redis is away.
    maxRetriesPerRequest: 3,
    // Off: ioredis serves one auto-pipeline at a time, so under load every command waits for the
    // batch before it, and each batch is a pipeline object of its own; both kept login state alive
    // long enough to be promoted to the old generation (about 17 KB a login in the XMPP bench).
    // Commands are still written back to back without waiting for answers.
    enableAutoPipelining: false,
    lazyConnect: true,
  });
  const logger = new Logger('Redis');
  client.on('error', (error: Error) =>
    logger.warn({ err: error, connection: name }, 'redis connection error'),
  );

  return client;
}

@Injectable()
class RedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        if (config.redis.mode === 'memory') {
          return null;
        }
        const client = openRedis(config.redis.url, `relay-${config.nodeId}`);
        await client.connect();

        return client;
      },
    },
    RedisLifecycle,
  ],
  exports: [REDIS],
})
export class RedisModule {}
