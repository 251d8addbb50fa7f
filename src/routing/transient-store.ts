import type { Redis } from 'ioredis';

/** Short-lived counters (login failures and the like): in process on one node, in Redis for a cluster. */
export abstract class TransientStore {
  /** Adds one to `key`, starting its expiry on the first increment; returns the new count. */
  abstract increment(key: string, ttlSeconds: number): Promise<number>;
  abstract get(key: string): Promise<number>;
  /** Seconds until `key` expires, 0 when it does not exist. */
  abstract ttl(key: string): Promise<number>;
  abstract delete(key: string): Promise<void>;
}

export class MemoryTransientStore extends TransientStore {
  private readonly entries = new Map<string, { count: number; expiresAt: number }>();
  private readonly sweeper = setInterval(() => this.sweep(), 30_000).unref();

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const entry = this.live(key) ?? { count: 0, expiresAt: Date.now() + ttlSeconds * 1000 };
    entry.count += 1;
    this.entries.set(key, entry);

    return entry.count;
  }

  async get(key: string): Promise<number> {
    return this.live(key)?.count ?? 0;
  }

  async ttl(key: string): Promise<number> {
    const entry = this.live(key);

    return entry === undefined ? 0 : Math.ceil((entry.expiresAt - Date.now()) / 1000);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private live(key: string): { count: number; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);

      return undefined;
    }

    return entry;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        this.entries.delete(key);
      }
    }
  }
}

export class RedisTransientStore extends TransientStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    super();
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const results = await this.redis
      .multi()
      .incr(this.prefix + key)
      .expire(this.prefix + key, ttlSeconds, 'NX')
      .exec();
    const [error, count] = results?.[0] ?? [new Error('no reply from redis'), 0];
    if (error !== null) {
      throw error;
    }

    return Number(count);
  }

  async get(key: string): Promise<number> {
    return Number((await this.redis.get(this.prefix + key)) ?? 0);
  }

  async ttl(key: string): Promise<number> {
    return Math.max(0, await this.redis.ttl(this.prefix + key));
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }
}
