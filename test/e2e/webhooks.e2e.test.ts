import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ADMIN_AUTH, http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { createTestDatabase, servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { WebhookReceiver, type ReceiverMode } from '#test/helpers/webhook-receiver.js';

interface Endpoint {
  id: string;
  secret: string;
  enabled: boolean;
  disabled_reason?: string;
}

interface DeliveryLog {
  deliveries: {
    id: string;
    status: string;
    attempts: number;
    event_type: string;
    log: { status_code?: number; error?: string; duration_ms: number }[];
  }[];
  next?: string;
}

const settings = {
  WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
  WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms',
  WEBHOOK_TIMEOUT_MS: '500',
  WEBHOOK_SWEEP_SECONDS: '1',
};

describe.skipIf(!servicesUp())('webhooks', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let alice: TestUser;
  let bob: TestUser;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const admin = <T = any>(method: string, path: string, json?: unknown) =>
    http<T>(server.url, method, path, {
      auth: ADMIN_AUTH,
      ...(json === undefined ? {} : { json }),
    });
  const createEndpoint = async (
    tag: string,
    body: Record<string, unknown>,
    mode: ReceiverMode = 'ok',
  ) => {
    receiver.modes.set(tag, mode);
    const created = await admin<Endpoint>('POST', '/api/admin/webhooks', {
      url: receiver.url,
      headers: { 'x-endpoint': tag },
      ...body,
    });
    expect(created.status).toBe(201);

    return created.body;
  };
  const deliveries = async (endpoint: Endpoint, query = '') =>
    (await admin<DeliveryLog>('GET', `/api/admin/webhooks/${endpoint.id}/deliveries${query}`)).body
      .deliveries;

  beforeAll(async () => {
    database = await createTestDatabase('webhooks');
    server = await startTestServer({ ...settings, DATABASE_URL: database.url });
    receiver = await WebhookReceiver.start();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await database?.drop();
  });

  it('delivers message.created signed per Standard Webhooks, in conversation order', async () => {
    const endpoint = await createEndpoint('ordered', {
      events: ['message.*'],
      domains: [server.domain],
    });
    expect(endpoint.secret).toMatch(/^whsec_/);
    const sent = [];
    for (let i = 0; i < 5; i += 1) {
      sent.push((await sendMessage(server.url, alice.basic, bob.jid, `hook ${i}`)).body.id);
    }

    const received = await receiver.waitFor('ordered', 5);
    const verifier = new Webhook(endpoint.secret);
    for (const delivery of received) {
      expect(() =>
        verifier.verify(delivery.body, delivery.headers as Record<string, string>),
      ).not.toThrow();
    }
    const events = receiver.events('ordered');
    expect(events.map((event) => event.type)).toEqual(Array(5).fill('message.created'));
    expect(events.map((event) => event.data.id)).toEqual(sent);
    const sequences = events.map((event) => event.conversation!.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(events.map((event) => event.conversation!.id)).size).toBe(1);
    expect(events[0]).toMatchObject({
      id: received[0]!.headers['webhook-id'],
      domain: server.domain,
      version: 1,
    });
  });

  it('holds the rest of a conversation behind a delivery waiting for its retry, unless the endpoint is unordered', async () => {
    const lane = await createEndpoint('lane', { events: ['message.created'] }, 'fail-once-marked');
    await createEndpoint(
      'loose',
      { events: ['message.created'], ordered: false },
      'fail-once-marked',
    );
    const sent: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const body = i === 1 ? `lane ${i} FAIL-ONCE` : `lane ${i}`;
      sent.push((await sendMessage(server.url, alice.basic, bob.jid, body)).body.id);
    }

    await receiver.waitFor('lane', 6);
    await receiver.waitFor('loose', 6);
    expect(receiver.events('lane').map((event) => event.data.id)).toEqual([
      sent[0],
      sent[1],
      sent[1],
      sent[2],
      sent[3],
      sent[4],
    ]);
    // Unordered: the others went while the failed one waited for its retry.
    expect(
      receiver
        .events('loose')
        .map((event) => event.data.id)
        .lastIndexOf(sent[1]),
    ).toBe(5);
    // Every outcome written: the retried one with both attempts, the others with one.
    await expect
      .poll(async () => (await deliveries(lane)).map((delivery) => delivery.status), {
        timeout: 3000,
      })
      .toEqual(Array(5).fill('succeeded'));
    const log = (await deliveries(lane)).reverse();
    expect(log.map((delivery) => delivery.log.map((attempt) => attempt.status_code))).toEqual([
      [200],
      [500, 200],
      [200],
      [200],
      [200],
    ]);
  });

  it('keeps a hanging endpoint to its own request slots while the others get everything', async () => {
    const stuck = await createEndpoint(
      'stuck',
      { events: ['message.created'], ordered: false, max_concurrency: 1 },
      'hang',
    );
    await createEndpoint('flowing', { events: ['message.created'], ordered: false });
    const started = Date.now();

    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sendMessage(server.url, alice.basic, bob.jid, `flowing ${i}`),
      ),
    );

    await receiver.waitFor('flowing', 20, 3000);
    // One request at a time, each given up after WEBHOOK_TIMEOUT_MS (500 ms).
    const elapsed = Date.now() - started;
    expect(receiver.of('stuck').length).toBeLessThanOrEqual(1 + Math.floor(elapsed / 500));
    await admin('PATCH', `/api/admin/webhooks/${stuck.id}`, { enabled: false });
  });

  it('filters by event type: a room.* endpoint gets no one-to-one events', async () => {
    await createEndpoint('rooms', { events: ['room.*', 'user.created'] });

    await sendMessage(server.url, alice.basic, bob.jid, 'not for rooms');
    await registerUser(server.url, server.domain, 'carol');

    await receiver.waitFor('rooms', 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.events('rooms').map((event) => event.type)).toEqual(['user.created']);
  });

  it('retries on the schedule, dead-letters after the last attempt, and replays', async () => {
    const endpoint = await createEndpoint('failing', { events: ['webhook.test'] }, 'fail');

    expect((await admin('POST', `/api/admin/webhooks/${endpoint.id}/test`)).status).toBe(202);

    const attempts = await receiver.waitFor('failing', 3);
    await expect
      .poll(async () => (await deliveries(endpoint))[0]?.status, { timeout: 3000 })
      .toBe('dead');
    const [log] = await deliveries(endpoint);
    expect(log!.attempts).toBe(3);
    expect(log!.log.map((attempt) => attempt.status_code)).toEqual([500, 500, 500]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(150);
    expect(attempts.map((attempt) => attempt.headers['webhook-id'])).toEqual(
      Array(3).fill(attempts[0]!.headers['webhook-id']),
    );

    receiver.modes.set('failing', 'ok');
    const since = new Date(Date.now() - 60_000).toISOString();
    const replayed = await admin<{ replayed: number }>(
      'POST',
      `/api/admin/webhooks/${endpoint.id}/replay`,
      { since },
    );
    expect(replayed.body.replayed).toBe(1);
    await expect
      .poll(async () => (await deliveries(endpoint))[0]?.status, { timeout: 3000 })
      .toBe('succeeded');
  });

  it('counts timeouts, resets and redirects as failures', async () => {
    const endpoints = [];
    for (const mode of ['hang', 'reset', 'redirect'] as const) {
      const endpoint = await createEndpoint(mode, { events: ['webhook.test'] }, mode);
      await admin('POST', `/api/admin/webhooks/${endpoint.id}/test`);
      endpoints.push(endpoint);
    }

    const errors: string[] = [];
    for (const endpoint of endpoints) {
      await expect
        .poll(async () => (await deliveries(endpoint))[0]?.status, { timeout: 8000 })
        .toBe('dead');
      errors.push((await deliveries(endpoint))[0]!.log[0]!.error ?? '');
    }
    expect(errors[0]).toMatch(/timed out after 500 ms/);
    expect(errors[1]).toMatch(/socket hang up|ECONNRESET/);
    expect(errors[2]).toBe('HTTP 302');
    // The redirect was not followed.
    expect(receiver.of('redirect')).toHaveLength(3);
  });

  it('honours Retry-After on 429, and disables the endpoint on 410 with an event saying so', async () => {
    const throttled = await createEndpoint('throttled', { events: ['webhook.test'] }, 'throttle');
    await createEndpoint('watcher', { events: ['webhook.endpoint_disabled'] });
    await admin('POST', `/api/admin/webhooks/${throttled.id}/test`);
    const [first, second] = await receiver.waitFor('throttled', 2);
    // Retry-After: 1 replaced the 200 ms of the schedule.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);

    const gone = await createEndpoint('gone', { events: ['webhook.test'] }, 'gone');
    await admin('POST', `/api/admin/webhooks/${gone.id}/test`);

    await expect
      .poll(
        async () => (await admin<Endpoint>('GET', `/api/admin/webhooks/${gone.id}`)).body.enabled,
        { timeout: 5000 },
      )
      .toBe(false);
    expect(
      (await admin<Endpoint>('GET', `/api/admin/webhooks/${gone.id}`)).body.disabled_reason,
    ).toMatch(/410/);
    await receiver.waitFor('watcher', 1);
    expect(receiver.events('watcher')[0]).toMatchObject({
      type: 'webhook.endpoint_disabled',
      data: { endpoint_id: gone.id },
    });
  });

  it('rotates the secret: both signatures are sent during the overlap', async () => {
    const endpoint = await createEndpoint('rotated', { events: ['webhook.test'] });
    const rotated = await admin<{ secret: string }>(
      'POST',
      `/api/admin/webhooks/${endpoint.id}/secret`,
    );

    await admin('POST', `/api/admin/webhooks/${endpoint.id}/test`);

    const [delivery] = await receiver.waitFor('rotated', 1);
    expect(String(delivery!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [endpoint.secret, rotated.body.secret]) {
      expect(() =>
        new Webhook(secret).verify(delivery!.body, delivery!.headers as Record<string, string>),
      ).not.toThrow();
    }
  });

  it('refuses private, loopback and metadata targets in every form unless allow-listed, and bad URLs', async () => {
    for (const url of [
      'http://127.0.0.2/hook',
      'http://0x7f000002/hook',
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/hook',
      'http://[::ffff:10.0.0.1]/hook',
      'http://[fd00:ec2::254]/hook',
      'http://0x0a000001/hook',
      'http://167772161/hook',
      'https://user:secret@127.0.0.1/hook',
      'ftp://127.0.0.1/hook',
      'http://127.0.0.1/ho\u0000ok',
    ]) {
      const result = await admin('POST', '/api/admin/webhooks', { url, events: ['message.*'] });
      expect(result.status, url).toBe(400);
    }
    expect(
      (
        await admin('POST', '/api/admin/webhooks', {
          url: receiver.url,
          events: ['mesage.created'],
        })
      ).status,
    ).toBe(400);
  });

  it('delivers, after a restart, events committed before a crash that kept them from the queue', async () => {
    const endpoint = await createEndpoint('restart', { events: ['user.deleted'] });
    await server.stop();
    // What a crash between commit and enqueue leaves: an outbox row and nothing queued.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(
      `INSERT INTO event_outbox (id, type, version, domain, data) VALUES ('01900000-0000-7000-8000-000000000001', 'user.deleted', 1, $1, $2)`,
      [server.domain, JSON.stringify({ jid: `ghost@${server.domain}` })],
    );
    // What a crash during a request leaves, once the claim's lease has run out: a due delivery.
    await client.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, attempts, next_attempt_at)
       VALUES ('01900000-0000-7000-8000-0000000000d1', $1, '01900000-0000-7000-8000-000000000002',
               'user.deleted', '{"id":"01900000-0000-7000-8000-000000000002","type":"user.deleted"}',
               1, now() - interval '1 minute')`,
      [endpoint.id],
    );
    await client.end();

    server = await startTestServer(
      { ...settings, DATABASE_URL: database.url },
      { domain: server.domain },
    );

    await receiver.waitFor('restart', 2);
    expect(
      receiver
        .events('restart')
        .map((event) => event.id)
        .sort(),
    ).toEqual(['01900000-0000-7000-8000-000000000001', '01900000-0000-7000-8000-000000000002']);
    expect(receiver.events('restart').find((event) => event.data !== undefined)).toMatchObject({
      id: '01900000-0000-7000-8000-000000000001',
      type: 'user.deleted',
    });
  });

  it('serves the queue dashboard only to the admin', async () => {
    expect((await http(server.url, 'GET', '/api/admin/queues')).status).toBe(401);
    const dashboard = await http<string>(server.url, 'GET', '/api/admin/queues', {
      auth: ADMIN_AUTH,
    });
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toMatch(/<html/i);
  });
});

describe.skipIf(!servicesUp())('webhook forwarding and failing endpoints', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    database = await createTestDatabase('forwarding');
    server = await startTestServer({
      ...settings,
      DATABASE_URL: database.url,
      WEBHOOK_FORWARD_URL: receiver.url,
      WEBHOOK_FORWARD_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      WEBHOOK_RETRY_SCHEDULE: '0,600ms,600ms,600ms',
      WEBHOOK_DISABLE_AFTER_SECONDS: '1',
    });
  });

  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await database?.drop();
  });

  it('forwards every message to WEBHOOK_FORWARD_URL, signed with its secret', async () => {
    const alice = await registerUser(server.url, server.domain, 'alice');
    const bob = await registerUser(server.url, server.domain, 'bob');

    const sent = await sendMessage(server.url, alice.basic, bob.jid, 'for the backend');

    await expect.poll(() => receiver.received.length, { timeout: 5000 }).toBeGreaterThan(0);
    const [delivery] = receiver.received;
    expect(JSON.parse(delivery!.body)).toMatchObject({
      type: 'message.created',
      data: { id: sent.body.id, body: 'for the backend' },
    });
    const verifier = new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(() =>
      verifier.verify(delivery!.body, delivery!.headers as Record<string, string>),
    ).not.toThrow();
  });

  it('disables an endpoint that fails without a success for WEBHOOK_DISABLE_AFTER_SECONDS', async () => {
    receiver.modes.set('flaky', 'fail');
    const created = await http<Endpoint>(server.url, 'POST', '/api/admin/webhooks', {
      auth: ADMIN_AUTH,
      json: { url: receiver.url, events: ['webhook.test'], headers: { 'x-endpoint': 'flaky' } },
    });
    await http(server.url, 'POST', `/api/admin/webhooks/${created.body.id}/test`, {
      auth: ADMIN_AUTH,
    });

    await expect
      .poll(
        async () =>
          (
            await http<Endpoint>(server.url, 'GET', `/api/admin/webhooks/${created.body.id}`, {
              auth: ADMIN_AUTH,
            })
          ).body,
        { timeout: 6000 },
      )
      .toMatchObject({ enabled: false, disabled_reason: 'no successful delivery for 1 seconds' });
  });
});

describe('webhooks without Redis (embedded database, deliveries run in process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-webhooks-'));
  let server: TestServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    server = await startTestServer({ ...settings, DATA_DIR: dataDir }, { embedded: true });
  });

  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers in conversation order, retries on the schedule and dead-letters', async () => {
    const admin = <T = any>(method: string, path: string, json?: unknown) =>
      http<T>(server.url, method, path, {
        auth: ADMIN_AUTH,
        ...(json === undefined ? {} : { json }),
      });
    receiver.modes.set('failing', 'fail');
    await admin('POST', '/api/admin/webhooks', {
      url: receiver.url,
      events: ['message.created'],
      headers: { 'x-endpoint': 'embedded' },
    });
    const failing = await admin<Endpoint>('POST', '/api/admin/webhooks', {
      url: receiver.url,
      events: ['webhook.test'],
      headers: { 'x-endpoint': 'failing' },
    });
    const alice = await registerUser(server.url, server.domain, 'alice');
    const bob = await registerUser(server.url, server.domain, 'bob');
    const sent: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      sent.push((await sendMessage(server.url, alice.basic, bob.jid, `embedded ${i}`)).body.id);
    }
    await admin('POST', `/api/admin/webhooks/${failing.body.id}/test`);

    await receiver.waitFor('embedded', 4);
    expect(receiver.events('embedded').map((event) => event.data.id)).toEqual(sent);
    const attempts = await receiver.waitFor('failing', 3);
    expect(attempts[2]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(300);
    await expect
      .poll(
        async () =>
          (await admin<DeliveryLog>('GET', `/api/admin/webhooks/${failing.body.id}/deliveries`))
            .body.deliveries[0],
        { timeout: 3000 },
      )
      .toMatchObject({ status: 'dead', attempts: 3 });
  });
});
