import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DataSource } from 'typeorm';

import { DomainsService } from '#src/accounts/domains.service.js';
import { UsersService } from '#src/accounts/users.service.js';
import { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import type { AppConfig } from '#src/config/app-config.js';
import type { BusMessage } from '#src/routing/cluster-bus.js';
import type { RouterService } from '#src/routing/router.service.js';

/** A query the test answers when it chooses. */
interface PendingQuery {
  readonly resolve: (rows: unknown[]) => void;
}

/** A data source whose queries wait for the test, and a router whose notices the test sends. */
function fakes() {
  const queries: PendingQuery[] = [];
  const ask = () => new Promise<unknown[]>((resolve) => queries.push({ resolve }));
  // Prepared statements (src/database/prepared-query.ts) take a pooled client of the driver.
  const client = { query: async () => ({ rows: await ask() }), release: () => undefined };
  const pool = { connect: () => Promise.resolve(client) };
  const dataSource = {
    getRepository: () => ({ find: ask, findBy: ask }),
    query: ask,
    manager: { connection: { driver: { master: pool } } },
  };
  let listener: ((message: BusMessage) => void) | undefined;
  const router = {
    onNotice: (registered: (message: BusMessage) => void) => {
      listener = registered;
    },
  };

  return {
    queries,
    dataSource: dataSource as unknown as DataSource,
    router: router as unknown as RouterService,
    notice: (message: BusMessage) => listener?.(message),
  };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the user lookup cache', () => {
  function users() {
    const setup = fakes();
    const service = new UsersService(
      setup.dataSource,
      {} as never,
      {} as never,
      setup.router,
      {} as never,
    );

    return { ...setup, service };
  }
  const row = (version: number) => [{ id: 'u1', credential_version: version }];

  it('answers a user who keeps getting messages at once, read again in the background past half its life', async () => {
    const { service, queries } = users();
    const first = service.findByJid('alice@x');
    await settled();
    queries[0]!.resolve(row(1));
    expect((await first)?.credentialVersion).toBe(1);

    vi.advanceTimersByTime(6_000);
    expect(service.cachedByJid('alice@x')?.credentialVersion).toBe(1);
    expect(service.cachedByJid('alice@x')?.credentialVersion).toBe(1);
    // One read in the background, however often it is asked meanwhile.
    await settled();
    expect(queries).toHaveLength(2);
    queries[1]!.resolve(row(2));
    await settled();

    // Twelve seconds after the first read, past its ten, the entry is the refreshed one.
    vi.advanceTimersByTime(6_000);
    expect(service.cachedByJid('alice@x')?.credentialVersion).toBe(2);
  });

  it('does not bring back an entry that a credentials change dropped during the read', async () => {
    const { service, queries, notice } = users();
    const first = service.findByJid('alice@x');
    await settled();
    queries[0]!.resolve(row(1));
    await first;

    vi.advanceTimersByTime(6_000);
    service.cachedByJid('alice@x');
    notice({ kind: 'credentials-changed', jid: 'alice@x' });
    await settled();
    queries[1]!.resolve(row(1));
    await settled();

    expect(service.cachedByJid('alice@x')).toBeUndefined();
  });
});

describe('the domain cache', () => {
  function domains() {
    const setup = fakes();
    const service = new DomainsService(setup.dataSource, {} as AppConfig, setup.router);

    return { ...setup, service };
  }
  const served = [{ name: 'x', enabled: true }];

  it('answers at once past half its life, read again once in the background', async () => {
    const { service, queries } = domains();
    const first = service.isEnabled('x');
    queries[0]!.resolve(served);
    expect(await first).toBe(true);

    vi.advanceTimersByTime(3_000);
    expect(service.knownEnabled('x')).toBe(true);
    expect(service.knownEnabled('x')).toBe(true);
    expect(queries).toHaveLength(2);
    queries[1]!.resolve(served);
    await settled();

    // Past the first read's five seconds, the refreshed cache answers, with no read yet.
    vi.advanceTimersByTime(2_100);
    expect(service.knownEnabled('x')).toBe(true);
    expect(queries).toHaveLength(2);
  });

  it('does not keep a read that began before a domain change', async () => {
    const { service, queries, notice } = domains();
    const first = service.isEnabled('x');
    queries[0]!.resolve(served);
    await first;

    vi.advanceTimersByTime(3_000);
    service.knownEnabled('x');
    notice({ kind: 'domain-changed', domain: 'x', usable: false });
    queries[1]!.resolve(served);
    await settled();

    expect(service.knownEnabled('x')).toBe(false);
    const again = service.isEnabled('x');
    queries[2]!.resolve([{ name: 'x', enabled: false }]);
    expect(await again).toBe(false);
  });
});

describe('the webhook endpoint cache', () => {
  const endpoint = { id: 'e1', enabled: true, events: ['message.created'], domains: [] };

  it('answers whether anyone wants an event at once past half its life, read again once in the background', async () => {
    const { dataSource, router, queries } = fakes();
    const registry = new EndpointRegistry(dataSource, router);
    expect(registry.anyWantsCached('message.created', 'x')).toBeUndefined();
    const first = registry.anyWants('message.created', 'x');
    queries[0]!.resolve([endpoint]);
    expect(await first).toBe(true);

    vi.advanceTimersByTime(3_000);
    expect(registry.anyWantsCached('message.created', 'x')).toBe(true);
    expect(registry.anyWantsCached('message.created', 'x')).toBe(true);
    expect(queries).toHaveLength(2);
    queries[1]!.resolve([]);
    await settled();

    // Past the first read's five seconds, the refreshed cache answers, with no read yet.
    vi.advanceTimersByTime(2_100);
    expect(registry.anyWantsCached('message.created', 'x')).toBe(false);
    expect(queries).toHaveLength(2);
  });

  it('does not keep a read that began before an endpoint change', async () => {
    const { dataSource, router, queries, notice } = fakes();
    const registry = new EndpointRegistry(dataSource, router);
    const first = registry.anyWants('message.created', 'x');
    queries[0]!.resolve([]);
    await first;

    vi.advanceTimersByTime(3_000);
    registry.anyWantsCached('message.created', 'x');
    notice({ kind: 'webhooks-changed' });
    queries[1]!.resolve([]);
    await settled();

    expect(registry.anyWantsCached('message.created', 'x')).toBeUndefined();
    const again = registry.anyWants('message.created', 'x');
    queries[2]!.resolve([endpoint]);
    expect(await again).toBe(true);
  });
});
