import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  MemorySessionRegistry,
  RedisSessionRegistry,
  type SessionRegistry,
} from '#src/routing/session-registry.js';
import type { SessionInfo } from '#src/routing/session.js';
import { servicesUp, TEST_REDIS_URL } from '#test/helpers/services.js';
import { uniqueDomain } from '#test/helpers/test-server.js';

/** The same presence contract for the in-process registry and the Redis one. */
describe.skipIf(!servicesUp())('session presence in the session registry', () => {
  let redis: Redis;
  const prefix = `test:registry:${uniqueDomain()}:`;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) {
      await redis.del(...keys);
    }
    await redis.quit();
  });

  const registries: [string, () => SessionRegistry][] = [
    ['memory', () => new MemorySessionRegistry()],
    ['redis', () => new RedisSessionRegistry(redis, 'node-1', 15_000, prefix)],
  ];

  for (const [kind, create] of registries) {
    it(`${kind}: keeps a session's presence with it, and never brings a closed session back`, async () => {
      const registry = create();
      const session: SessionInfo = {
        id: `${kind}-s1`,
        jid: `alice@${kind}.example`,
        resource: 'phone',
        transport: 'socket.io',
        node: 'node-1',
        connectedAt: Date.now(),
      };
      await registry.register(session);
      await registry.register({ ...session, id: `${kind}-s2`, resource: 'laptop' });

      expect(await registry.setPresence(session, { show: 'dnd', status: 'busy' })).toBe(true);
      const stored = await registry.sessionsOf(session.jid);
      expect(
        stored
          .sort((a, b) => a.resource.localeCompare(b.resource))
          .map((info) => [info.resource, info.presence]),
      ).toEqual([
        ['laptop', undefined],
        ['phone', { show: 'dnd', status: 'busy' }],
      ]);
      expect((await registry.find(session.id))?.presence).toEqual({ show: 'dnd', status: 'busy' });

      await registry.unregister(session);
      expect(await registry.setPresence(session, { show: 'away' })).toBe(false);
      expect((await registry.sessionsOf(session.jid)).map((info) => info.id)).toEqual([
        `${kind}-s2`,
      ]);
    });
  }
});
