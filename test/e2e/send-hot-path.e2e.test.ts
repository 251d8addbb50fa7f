import { request as httpRequest } from 'node:http';

import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import pg from 'pg';

import type { MessageView } from '#src/messaging/message-view.js';
import {
  ADMIN_AUTH,
  connectSocket,
  http,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp, TEST_DATABASE_URL } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { WebhookReceiver } from '#test/helpers/webhook-receiver.js';

/**
 * POST /api/messages takes shortcuts for the requests nearly every client
 * sends (one Authorization header, a plain JSON object body, a clearly valid
 * send, a message and its inbox change in one socket write). These tests
 * hold the shortcuts to the answers of the general path beside them.
 */
describe.skipIf(!servicesUp())('the send hot path answers as the general path does', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let aliceToken: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // The webhook test delivers to a receiver on loopback.
    server = await startTestServer({ WEBHOOK_ALLOW_HOSTS: '127.0.0.1' });
    [alice, bob] = await Promise.all([
      registerUser(server.url, server.domain, 'alice'),
      registerUser(server.url, server.domain, 'bob'),
    ]);
    aliceToken = await tokenFor(server.url, alice);
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await server?.stop();
  });

  async function archiveOfBob(): Promise<MessageView[]> {
    const page = await http<MessageView[]>(server.url, 'GET', `/api/messages/${alice.jid}`, {
      auth: bob.basic,
    });

    return page.body;
  }

  /** A POST whose body arrives in the given pieces, with a pause between them. */
  /** A send whose body leaves in pieces 20 ms apart; `chunked` (no declared length) takes the general path. */
  function sendInPieces(
    pieces: readonly Buffer[],
    headers: Record<string, string>,
    chunked = false,
  ): Promise<{ status: number; body: { id?: string; type?: string } }> {
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
    const framing = chunked
      ? { 'transfer-encoding': 'chunked' }
      : { 'content-length': String(length) };

    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/api/messages`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...framing, ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string },
            }),
          );
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      const [first, ...rest] = pieces;
      req.write(first);
      let index = 0;
      const next = () => {
        if (index === rest.length) {
          req.end();

          return;
        }
        req.write(rest[index++]);
        setTimeout(next, 20);
      };
      setTimeout(next, 20);
    });
  }

  interface RawAnswer {
    status: number;
    /** Header lines as sent, in order, without Date (the only one that may differ by itself). */
    headers: string[];
    text: string;
  }

  /**
   * A POST as bytes; `chunked` sends the same body without a declared
   * length, which the fast route leaves to the general path (body-parser,
   * Express's router, Nest's guard, pipe and controller).
   */
  function rawPost(
    path: string,
    body: string | Buffer,
    headers: Record<string, string>,
    chunked: boolean,
  ): Promise<RawAnswer> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;

    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${server.url}${path}`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(chunked
              ? { 'transfer-encoding': 'chunked' }
              : { 'content-length': String(bytes.length) }),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const lines: string[] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) {
              if (res.rawHeaders[i]!.toLowerCase() !== 'date') {
                lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
              }
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: lines,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      req.on('error', reject);
      req.end(bytes);
    });
  }

  /** The same request down the fast route and down the general path. */
  async function bothPaths(
    body: string | Buffer,
    headers: Record<string, string>,
  ): Promise<[RawAnswer, RawAnswer]> {
    const fast = await rawPost('/api/messages', body, headers, false);
    const general = await rawPost('/api/messages', body, headers, true);

    return [fast, general];
  }

  it('answers a send on the fast route with the bytes and headers of the general path', async () => {
    const send = JSON.stringify({ to: bob.jid, body: 'same answer' });
    const withId = (answer: RawAnswer) => ({
      ...answer,
      text: answer.text.replace(/"id":"[0-9a-f-]{36}"/, '"id":"…"'),
    });
    for (const auth of [`Bearer ${aliceToken}`, alice.basic]) {
      const [fast, general] = await bothPaths(send, {
        authorization: auth,
        'x-request-id': 'same-send',
      });
      expect(fast.status).toBe(200);
      expect(fast.text).toMatch(/^\{"id":"[0-9a-f-]{36}"\}$/);
      expect(withId(fast)).toEqual(withId(general));
    }
    const archive = await archiveOfBob();
    expect(archive.filter((message) => message.body === 'same answer')).toHaveLength(4);
  });

  it('refuses the same sends on the fast route with the same problems as the general path', async () => {
    const bearer = `Bearer ${aliceToken}`;
    const cases: [string, string | Buffer, Record<string, string>][] = [
      ['an unknown recipient', JSON.stringify({ to: `nobody@${server.domain}`, body: 'x' }), {}],
      ['an invalid recipient', JSON.stringify({ to: 'a@b@c', body: 'x' }), {}],
      [
        'a recipient on no served domain',
        JSON.stringify({ to: 'bob@elsewhere.test', body: 'x' }),
        {},
      ],
      [
        'a body over the message limit',
        JSON.stringify({ to: bob.jid, body: 'é'.repeat(40_000) }),
        {},
      ],
      ['a control character', JSON.stringify({ to: bob.jid, body: 'a\u0001b' }), {}],
      ['an unknown field', JSON.stringify({ to: bob.jid, body: 'x', from: alice.jid }), {}],
      ['a number for a body', JSON.stringify({ to: bob.jid, body: 42 }), {}],
      ['an empty object', '{}', {}],
      ['a prototype key', `{"to":"${bob.jid}","body":"x","__proto__":{}}`, {}],
      [
        'invalid UTF-8',
        Buffer.concat([
          Buffer.from(`{"to":"${bob.jid}","body":"`),
          Buffer.from([0xff, 0x22, 0x7d]),
        ]),
        {},
      ],
      [
        'a bad idempotency key',
        JSON.stringify({ to: bob.jid, body: 'x' }),
        { 'idempotency-key': 'a,b' },
      ],
      [
        'a wrong token',
        JSON.stringify({ to: bob.jid, body: 'x' }),
        { authorization: 'Bearer at_wrong' },
      ],
      ['no credentials', JSON.stringify({ to: bob.jid, body: 'x' }), { authorization: '' }],
    ];
    for (const [name, body, headers] of cases) {
      const [fast, general] = await bothPaths(body, {
        authorization: bearer,
        'x-request-id': 'same-problem',
        ...headers,
      });
      expect(fast.status, name).toBeGreaterThanOrEqual(400);
      expect(fast, name).toEqual(general);
    }
    // A key used before for another message: 422 on both paths.
    const keyed = { authorization: bearer, 'idempotency-key': 'hot-path-key' };
    expect(
      (await rawPost('/api/messages', JSON.stringify({ to: bob.jid, body: 'first' }), keyed, false))
        .status,
    ).toBe(200);
    const [fast, general] = await bothPaths(JSON.stringify({ to: bob.jid, body: 'second' }), {
      ...keyed,
      'x-request-id': 'same-reuse',
    });
    expect(fast.status).toBe(422);
    expect(fast).toEqual(general);
    expect((await archiveOfBob()).some((message) => message.body === 'second')).toBe(false);
  });

  it('throttles failed Basic logins on the fast route as on the general path', async () => {
    const carol = await registerUser(server.url, server.domain, 'carol');
    const wrong = `Basic ${Buffer.from(`${carol.jid}:wrong`).toString('base64')}`;
    const send = JSON.stringify({ to: bob.jid, body: 'x' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await rawPost('/api/messages', send, { authorization: wrong }, false)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const [fast, general] = await bothPaths(send, {
      authorization: wrong,
      'x-request-id': 'same-429',
    });
    const retryAfter = (answer: RawAnswer) =>
      Number(answer.headers.find((line) => line.startsWith('Retry-After: '))?.slice(13));
    expect(fast.status).toBe(429);
    expect(Math.abs(retryAfter(fast) - retryAfter(general))).toBeLessThanOrEqual(1);
    const withoutRetry = (answer: RawAnswer) => ({
      ...answer,
      headers: answer.headers.filter((line) => !line.startsWith('Retry-After: ')),
    });
    expect(withoutRetry(fast)).toEqual(withoutRetry(general));
  });

  it('counts fast-route requests under the route and status of the general path', async () => {
    await rawPost(
      '/api/messages',
      JSON.stringify({ to: bob.jid, body: 'counted' }),
      {
        authorization: `Bearer ${aliceToken}`,
      },
      false,
    );
    const metrics = await http<string>(server.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(
      /relay_http_request_duration_seconds_count\{method="POST",route="\/api\/messages",status="200"\} \d+/,
    );
    expect(metrics.body).toMatch(
      /relay_http_request_duration_seconds_count\{method="POST",route="\/api\/messages",status="404"\} \d+/,
    );
    expect(metrics.body).not.toMatch(/method="POST",route="unmatched",status="(200|404)"/);
  });

  /** The request-duration count of one route and status, from the metrics endpoint. */
  async function requestCount(status: number): Promise<number> {
    const metrics = await http<string>(server.url, 'GET', '/metrics');
    const line = metrics.body
      .split('\n')
      .find((text) =>
        text.startsWith(
          `relay_http_request_duration_seconds_count{method="POST",route="/api/messages",status="${status}"}`,
        ),
      );

    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  it('hands a body its check does not accept to the general path, which runs the common middleware once', async () => {
    const before = await requestCount(200);
    // class-validator lets a null optional field through; the hand check leaves it to it.
    const [fast, general] = await bothPaths(
      JSON.stringify({ to: bob.jid, body: 'null client id', client_id: null }),
      { authorization: `Bearer ${aliceToken}`, 'x-request-id': 'same-handed-on' },
    );
    expect(fast.status).toBe(200);
    const withId = (answer: RawAnswer) => answer.text.replace(/[0-9a-f-]{36}/, '…');
    expect(withId(fast)).toBe(withId(general));
    expect(fast.headers.filter((line) => line.startsWith('X-Request-Id: '))).toEqual([
      'X-Request-Id: same-handed-on',
    ]);
    expect(await requestCount(200)).toBe(before + 2);
  });

  it('carries the request id into the webhook events of a send on either path, also when the body comes in pieces', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      const created = await http(server.url, 'POST', '/api/admin/webhooks', {
        auth: ADMIN_AUTH,
        json: { url: receiver.url, events: ['message.created'], domains: [server.domain] },
      });
      expect(created.status).toBe(201);
      const send = (body: string) => JSON.stringify({ to: bob.jid, body });
      const auth = `Bearer ${aliceToken}`;
      const whole = await rawPost(
        '/api/messages',
        send('whole'),
        {
          authorization: auth,
          'x-request-id': 'trace-whole',
        },
        false,
      );
      const bytes = Buffer.from(send('pieces'));
      const pieces = await sendInPieces([bytes.subarray(0, 9), bytes.subarray(9)], {
        authorization: auth,
        'x-request-id': 'trace-pieces',
      });
      const general = await rawPost(
        '/api/messages',
        send('general'),
        {
          authorization: auth,
          'x-request-id': 'trace-general',
        },
        true,
      );
      const generalPieces = await sendInPieces(
        [bytes.subarray(0, 9), bytes.subarray(9)],
        { authorization: auth, 'x-request-id': 'trace-general-pieces' },
        true,
      );
      const ids = [whole, general].map((answer) => (JSON.parse(answer.text) as { id: string }).id);
      ids.splice(1, 0, pieces.body.id!);
      ids.push(generalPieces.body.id!);
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ body: string; request_id: string | null }>(
          `SELECT body, request_id FROM webhook_deliveries WHERE event_type = 'message.created'`,
        );
        const byId = new Map(
          rows.map((row) => [
            (JSON.parse(row.body) as { data: { id: string } }).data.id,
            row.request_id,
          ]),
        );
        expect(ids.map((id) => byId.get(id))).toEqual([
          'trace-whole',
          'trace-pieces',
          'trace-general',
          'trace-general-pieces',
        ]);
      } finally {
        await client.end();
      }
    } finally {
      await receiver.stop();
    }
  });

  it('authenticates a bearer header, a Basic header, a lower-case scheme and a query token alike', async () => {
    const bearer = await sendMessage(server.url, `Bearer ${aliceToken}`, bob.jid, 'by bearer');
    const lower = await sendMessage(
      server.url,
      `bearer ${aliceToken}`,
      bob.jid,
      'by bearer, lower',
    );
    const basic = await sendMessage(server.url, alice.basic, bob.jid, 'by basic');
    // Not a header: passport's bearer strategy reads the query string as well.
    const query = await http<{ id: string }>(
      server.url,
      'POST',
      `/api/messages?access_token=${encodeURIComponent(aliceToken)}`,
      { json: { to: bob.jid, body: 'by query token' } },
    );
    for (const result of [bearer, lower, basic, query]) {
      expect(result.status).toBe(200);
    }
    const archive = await archiveOfBob();
    expect(archive.map((message) => message.body)).toEqual(
      expect.arrayContaining(['by bearer', 'by bearer, lower', 'by basic', 'by query token']),
    );
    expect(archive.every((message) => message.from === alice.jid)).toBe(true);
  });

  it('refuses bad credentials on either path with the same problems', async () => {
    const wrongToken = await sendMessage(server.url, 'Bearer at_not-a-token', bob.jid, 'x');
    expect(wrongToken.status).toBe(401);
    expect(wrongToken.body).toMatchObject({ type: '/problems/invalid-token' });
    const wrongPassword = await sendMessage(
      server.url,
      `Basic ${Buffer.from(`${alice.jid}:wrong`).toString('base64')}`,
      bob.jid,
      'x',
    );
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body).toMatchObject({ type: '/problems/invalid-credentials' });
    for (const auth of [`Bearer  ${aliceToken}`, 'Bearer', 'Digest abc', 'Basic !!!']) {
      const result = await sendMessage(server.url, auth, bob.jid, 'x');
      expect(result.status).toBe(401);
      expect(result.body).toMatchObject({ type: '/problems/unauthorized' });
    }
    // A header and a query token at once is ambiguous (RFC 6750 section 2): refused.
    const both = await http(server.url, 'POST', `/api/messages?access_token=${aliceToken}`, {
      auth: `Bearer ${aliceToken}`,
      json: { to: bob.jid, body: 'x' },
    });
    expect(both.status).toBe(401);
    expect((await archiveOfBob()).some((message) => message.body === 'x')).toBe(false);
  });

  it('reads a body that arrives in pieces, or that body-parser reads, to the same message', async () => {
    const text = JSON.stringify({ to: bob.jid, body: 'in pieces: é 😀' });
    const bytes = Buffer.from(text);
    const pieces = await sendInPieces(
      [bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)],
      {
        authorization: `Bearer ${aliceToken}`,
      },
    );
    expect(pieces.status).toBe(200);
    // Leading whitespace: not an object at the first byte, so body-parser reads it.
    const spaced = await sendInPieces(
      [Buffer.from('  \n'), Buffer.from(JSON.stringify({ to: bob.jid, body: 'spaced' }))],
      {
        authorization: `Bearer ${aliceToken}`,
      },
    );
    expect(spaced.status).toBe(200);
    const archive = await archiveOfBob();
    expect(archive.find((message) => message.id === pieces.body.id)?.body).toBe('in pieces: é 😀');
    expect(archive.find((message) => message.id === spaced.body.id)?.body).toBe('spaced');
  });

  it('refuses invalid UTF-8 split across pieces and a body that is not an object, storing nothing', async () => {
    const before = (await archiveOfBob()).length;
    const invalid = await sendInPieces(
      [
        Buffer.from(`{"to":"${bob.jid}","body":"a`),
        Buffer.from([0xc3]),
        Buffer.from([0x28]),
        Buffer.from('"}'),
      ],
      { authorization: `Bearer ${aliceToken}` },
    );
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ type: '/problems/invalid-encoding' });
    const array = await http(server.url, 'POST', '/api/messages', {
      auth: `Bearer ${aliceToken}`,
      raw: JSON.stringify([{ to: bob.jid, body: 'in an array' }]),
    });
    expect(array.status).toBe(400);
    const truncated = await http(server.url, 'POST', '/api/messages', {
      auth: `Bearer ${aliceToken}`,
      raw: `{"to":"${bob.jid}","body":"cut`,
    });
    expect(truncated.status).toBe(400);
    expect(truncated.body).toMatchObject({ type: '/problems/invalid-json' });
    expect((await archiveOfBob()).length).toBe(before);
  });

  it('delivers the message and then its inbox change, once each, as the archive shows them', async () => {
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, bob) });
    sockets.push(socket);
    const events: { event: string; data: unknown }[] = [];
    socket.onAny((event: string, data: unknown) => {
      // Presence of the session itself may come too; what matters here is the message traffic.
      if (event === 'message' || event === 'inbox') {
        events.push({ event, data });
      }
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = await sendMessage(server.url, `Bearer ${aliceToken}`, bob.jid, `live ${i}`);
      expect(sent.status).toBe(200);
      ids.push(sent.body.id);
    }
    const deadline = Date.now() + 5000;
    while (events.length < 10 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const archive = await archiveOfBob();
    expect(events.map((entry) => entry.event)).toEqual(ids.flatMap(() => ['message', 'inbox']));
    ids.forEach((id, i) => {
      expect(events[2 * i]!.data).toEqual(archive.find((message) => message.id === id));
      expect(events[2 * i + 1]!.data).toMatchObject({
        type: 'chat',
        id: alice.jid,
        last_message_id: id,
      });
    });
  });
});
