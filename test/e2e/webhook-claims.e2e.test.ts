import { randomUUID } from 'node:crypto';

import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { AppConfig } from '#src/config/app-config.js';
import { createDataSource } from '#src/database/data-source.js';
import { DeliveryClaims } from '#src/events/delivery-claims.js';
import { DeliverySettler, type Settlement } from '#src/events/delivery-settler.js';
import type { EndpointRegistry } from '#src/events/endpoint-registry.service.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { createTestDatabase, servicesUp } from '#test/helpers/services.js';

interface Row {
  id: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
}

const LEASE_MS = 60_000;

/** Claims and settles against real PostgreSQL: the statements that keep lanes in order and outcomes exact. */
describe.skipIf(!servicesUp())('webhook delivery claims and settles', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let claims: DeliveryClaims;
  let settler: DeliverySettler;
  let endpoint: { id: string; ordered: boolean };
  let sequence = 0;

  const addEndpoint = async (ordered: boolean) => {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO webhook_endpoints (url, events, secret, ordered) VALUES ('http://127.0.0.1/hook', '{*}', 'whsec_x', $1) RETURNING id`,
      [ordered],
    );

    return { id: row!.id, ordered };
  };
  /** A pending delivery, due `dueInMs` from now (negative: overdue). */
  const addDelivery = async (
    conversation: string | null,
    dueInMs = -1000,
    to: { id: string } = endpoint,
  ) => {
    const id = randomUUID();
    sequence += 1;
    await dataSource.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, conversation, sequence, body, next_attempt_at)
       VALUES ($1, $2, $3, 'message.created', $4, $5, '{}', $6)`,
      [
        id,
        to.id,
        randomUUID(),
        conversation,
        conversation === null ? null : sequence,
        new Date(Date.now() + dueInMs),
      ],
    );

    return id;
  };
  const rowOf = async (id: string) =>
    (
      await dataSource.query<Row[]>(
        'SELECT id, status, attempts, next_attempt_at, last_status FROM webhook_deliveries WHERE id = $1',
        [id],
      )
    )[0];
  const settlement = (deliveryId: string, fields: Partial<Settlement>): Settlement => ({
    attemptId: randomUUID(),
    deliveryId,
    endpointId: endpoint.id,
    attempt: 1,
    startedAt: new Date(),
    durationMs: 3,
    statusCode: 200,
    error: null,
    responseBody: null,
    status: 'succeeded',
    lastError: null,
    nextAttemptAt: new Date(),
    success: true,
    ...fields,
  });

  beforeAll(async () => {
    // The settler logs the entry it gives up on; that is expected here.
    Logger.overrideLogger(false);
    database = await createTestDatabase('claims');
    dataSource = createDataSource({ url: database.url, poolSize: 4 });
    await dataSource.initialize();
    await dataSource.runMigrations();
    claims = new DeliveryClaims(dataSource);
    settler = new DeliverySettler(dataSource, {
      webhooks: { disableAfterMs: 3_600_000 },
    } as AppConfig);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  beforeEach(async () => {
    endpoint = await addEndpoint(true);
  });

  it('claims each ordered lane as one run in sequence order, and deliveries without a lane alone', async () => {
    const lane = [await addDelivery('a'), await addDelivery('a'), await addDelivery('a')];
    const other = [await addDelivery('b'), await addDelivery('b')];
    const loose = await addDelivery(null);

    const runs = await claims.claim(endpoint, 10, 49, LEASE_MS);

    expect(runs.map((run) => run.map((delivery) => delivery.id)).sort()).toEqual(
      [lane, other, [loose]].sort(),
    );
    // The head of each run is leased, and holds its lane: a second claim takes none of them.
    expect((await rowOf(lane[0]!))!.next_attempt_at.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect((await rowOf(lane[2]!))!.next_attempt_at.getTime()).toBeLessThan(Date.now());
    expect(await claims.claim(endpoint, 10, 49, LEASE_MS)).toEqual([]);
  });

  it('holds a lane behind a delivery waiting for its retry, and stops a run before a delivery not due', async () => {
    const waiting = await addDelivery('a', 60_000);
    await addDelivery('a');
    const head = await addDelivery('b');
    const next = await addDelivery('b');
    await addDelivery('b', 60_000);
    await addDelivery('b');

    const runs = await claims.claim(endpoint, 10, 49, LEASE_MS);

    expect(runs.map((run) => run.map((delivery) => delivery.id))).toEqual([[head, next]]);
    expect((await rowOf(waiting))!.attempts).toBe(0);
  });

  it('claims every lane head of an unordered endpoint, with no runs', async () => {
    endpoint = await addEndpoint(false);
    const ids = [await addDelivery('a'), await addDelivery('a'), await addDelivery('a', 60_000)];

    const runs = await claims.claim(endpoint, 10, 49, LEASE_MS);

    expect(runs.map((run) => run.map((delivery) => delivery.id)).sort()).toEqual(
      [[ids[0]], [ids[1]]].sort(),
    );
  });

  it('takes at most the number of heads asked for, oldest due first', async () => {
    const oldest = await addDelivery(null, -3000);
    await addDelivery(null, -1000);
    const older = await addDelivery(null, -2000);

    const runs = await claims.claim(endpoint, 2, 49, LEASE_MS);

    expect(runs.map((run) => run[0]!.id)).toEqual([oldest, older]);
  });

  it('lets the lanes of an endpoint take turns', async () => {
    for (const lane of ['a', 'b', 'c', 'd']) {
      await addDelivery(lane);
    }
    const cursor = { after: '' };
    const turn = async () => {
      const runs = await claims.claim(endpoint, 2, 49, LEASE_MS, cursor);
      await settler.release(runs.flat());

      return runs.map((run) => run[0]!.conversation).sort();
    };

    expect(await turn()).toEqual(['a', 'b']);
    expect(await turn()).toEqual(['c', 'd']);
    expect(await turn()).toEqual(['a', 'b']);
  });

  it('never splits a lane between two claims running at once', async () => {
    const lanes = ['a', 'b', 'c', 'd'];
    for (let i = 0; i < 40; i += 1) {
      await addDelivery(lanes[i % lanes.length]!);
    }

    const [first, second] = await Promise.all([
      claims.claim(endpoint, 2, 49, LEASE_MS),
      claims.claim(endpoint, 2, 49, LEASE_MS),
    ]);

    const runs = [...first, ...second];
    const ids = runs.flat().map((delivery) => delivery.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Whatever each claim got of a lane, it got all of it, and in order.
    const byLane = new Map<string, number>();
    for (const run of runs) {
      const conversation = run[0]!.conversation!;
      byLane.set(conversation, (byLane.get(conversation) ?? 0) + 1);
      expect(run).toHaveLength(10);
      const sequences = run.map((delivery) => Number(delivery.sequence));
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    }
    expect([...byLane.values()].every((count) => count === 1)).toBe(true);
  });

  it('gives claimed deliveries back: released, they are due again, unless claimed anew meanwhile', async () => {
    const id = await addDelivery('a');
    const [first] = await claims.claim(endpoint, 10, 49, LEASE_MS);

    await settler.release(first!);

    const [second] = await claims.claim(endpoint, 10, 49, 2 * LEASE_MS);
    expect(second!.map((d) => d.id)).toEqual([id]);
    // The first claim's lease is over: giving it back again leaves the second claim alone.
    await settler.release(first!);
    expect(await claims.claim(endpoint, 10, 49, LEASE_MS)).toEqual([]);
  });

  it('settles a batch in which one delivery fails while others succeed, each as its outcome says', async () => {
    const [ok1, failed, ok2, dead] = [
      await addDelivery(null),
      await addDelivery(null),
      await addDelivery(null),
      await addDelivery(null),
    ];
    await claims.claim(endpoint, 10, 49, LEASE_MS);
    const retryAt = new Date(Date.now() + 5000);

    // Queued in one tick: one statement writes them all.
    const written = await Promise.all([
      settler.settle(settlement(ok1, {})),
      settler.settle(
        settlement(failed, {
          statusCode: 500,
          error: 'HTTP 500',
          status: 'pending',
          nextAttemptAt: retryAt,
          success: false,
        }),
      ),
      settler.settle(settlement(ok2, { attempt: 2 })),
      settler.settle(
        settlement(dead, {
          statusCode: null,
          error: 'connect ECONNREFUSED',
          lastError: 'connect ECONNREFUSED',
          status: 'dead',
          attempt: 8,
          success: false,
        }),
      ),
    ]);

    expect(written).toEqual([false, false, false, false]);
    expect(await rowOf(ok1)).toMatchObject({ status: 'succeeded', attempts: 1, last_status: 200 });
    expect(await rowOf(failed)).toMatchObject({ status: 'pending', attempts: 1, last_status: 500 });
    expect((await rowOf(failed))!.next_attempt_at.getTime()).toBe(retryAt.getTime());
    expect(await rowOf(ok2)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(await rowOf(dead)).toMatchObject({ status: 'dead', attempts: 8, last_status: null });
    const attempts = await dataSource.query<{ delivery_id: string; error: string | null }[]>(
      'SELECT delivery_id, error FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id',
      [[ok1, failed, ok2, dead]],
    );
    expect(attempts).toHaveLength(4);
    expect(Object.fromEntries(attempts.map((a) => [a.delivery_id, a.error]))).toEqual({
      [ok1]: null,
      [failed]: 'HTTP 500',
      [ok2]: null,
      [dead]: 'connect ECONNREFUSED',
    });
    // The last outcome of the batch was a failure after a success: failing since now.
    const [health] = await dataSource.query<
      { failing_since: Date | null; last_success_at: Date | null }[]
    >('SELECT failing_since, last_success_at FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
    expect(health!.failing_since).not.toBeNull();
    expect(health!.last_success_at).not.toBeNull();
  });

  it('writes the rest of a batch when one entry cannot be written, and skips deliveries deleted meanwhile', async () => {
    const [first, second, gone] = [
      await addDelivery(null),
      await addDelivery(null),
      await addDelivery(null),
    ];
    await dataSource.query('DELETE FROM webhook_deliveries WHERE id = $1', [gone]);
    const shared = randomUUID();

    await Promise.all([
      settler.settle(settlement(first, { attemptId: shared })),
      // The same attempt id again: this statement cannot be written, in a batch or alone.
      settler.settle(settlement(second, { attemptId: shared })),
      settler.settle(settlement(gone, {})),
    ]);

    expect(await rowOf(first)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await rowOf(second)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await rowOf(gone)).toBeUndefined();
    const [{ count }] = await dataSource.query<[{ count: string }]>(
      'SELECT count(*) FROM webhook_attempts WHERE delivery_id = ANY($1)',
      [[first, second, gone]],
    );
    expect(Number(count)).toBe(1);
  });

  it('answers which endpoints have failed without a success for too long', async () => {
    const stale = await addEndpoint(false);
    await dataSource.query(
      `UPDATE webhook_endpoints SET failing_since = now() - interval '2 hours' WHERE id = $1`,
      [stale.id],
    );
    const [old, fresh] = [await addDelivery(null, -1000, stale), await addDelivery(null)];
    const failure = {
      status: 'pending' as const,
      statusCode: 500,
      error: 'HTTP 500',
      success: false,
    };

    const [staleFailing, freshFailing] = await Promise.all([
      settler.settle(settlement(old, { ...failure, endpointId: stale.id })),
      settler.settle(settlement(fresh, failure)),
    ]);

    expect(staleFailing).toBe(true);
    expect(freshFailing).toBe(false);
  });

  it('records one delivery per endpoint that wants an event, numbered per conversation in batch order', async () => {
    const second = await addEndpoint(true);
    const recorder = new EventRecorder(
      { isEnabled: () => true } as unknown as AppConfig,
      { wanting: async () => [endpoint, second] } as unknown as EndpointRegistry,
      dataSource,
    );
    const heard: string[][] = [];
    recorder.onRecorded((ids) => heard.push([...ids].sort()));
    const event = (conversation?: string) => ({
      type: 'message.created' as const,
      domain: 'example.org',
      data: { body: 'hé "quoted"' } as never,
      ...(conversation === undefined ? {} : { conversation }),
    });
    const record = (events: ReturnType<typeof event>[]) =>
      dataSource.transaction(async (manager) => {
        await recorder.record(manager, events);
        // Nothing is announced before the commit.
        expect(heard).toHaveLength(0);
      });
    const conversation = `chat-${randomUUID()}`;
    const other = `chat-${randomUUID()}`;

    await record([
      event(conversation),
      event(other),
      event(),
      event(conversation),
      event(conversation),
    ]);
    // Announced once the transaction committed: both endpoints, once each.
    expect(heard).toEqual([[endpoint.id, second.id].sort()]);
    heard.length = 0;
    await record([event(other), event(conversation)]);
    await expect(
      dataSource.transaction(async (manager) => {
        await recorder.record(manager, [event(conversation)]);
        heard.length = 0;
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');

    expect(heard).toEqual([]);
    const rows = await dataSource.query<
      { event_id: string; conversation: string | null; sequence: string | null; body: string }[]
    >(
      `SELECT event_id, conversation, sequence, body FROM webhook_deliveries
       WHERE endpoint_id = $1 ORDER BY event_id`,
      [endpoint.id],
    );
    expect(rows.map((row) => [row.conversation, row.sequence])).toEqual([
      [conversation, '1'],
      [other, '1'],
      [null, null],
      [conversation, '2'],
      [conversation, '3'],
      [other, '2'],
      [conversation, '4'],
    ]);
    for (const row of rows) {
      expect(JSON.parse(row.body)).toEqual({
        id: row.event_id,
        type: 'message.created',
        timestamp: expect.any(String),
        version: 1,
        domain: 'example.org',
        ...(row.conversation === null
          ? {}
          : { conversation: { id: row.conversation, sequence: Number(row.sequence) } }),
        data: { body: 'hé "quoted"' },
      });
    }
    const [{ count }] = await dataSource.query<[{ count: string }]>(
      'SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = ANY($2)',
      [second.id, rows.map((row) => row.event_id)],
    );
    expect(Number(count)).toBe(rows.length);
  });
});
