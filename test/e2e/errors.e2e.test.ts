import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ADMIN_AUTH,
  connectSocket,
  http,
  registerUser,
  sendMessage,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  request_id: string;
  errors?: { name: string; reason: string }[];
}

describe.skipIf(!servicesUp())('bad input gets a problem and stores nothing', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer({ MESSAGE_MAX_BYTES: '1000', HTTP_BODY_LIMIT_BYTES: '4096' });
    [alice, bob] = await Promise.all([
      registerUser(server.url, server.domain, 'alice'),
      registerUser(server.url, server.domain, 'bob'),
    ]);
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function expectNothingStored(): Promise<void> {
    const archive = await http<unknown[]>(server.url, 'GET', '/api/messages', { auth: bob.basic });
    expect(archive.body).toEqual([]);
    const sent = await http<unknown[]>(server.url, 'GET', '/api/messages', { auth: alice.basic });
    expect(sent.body).toEqual([]);
  }

  function expectProblem(
    result: { status: number; body: unknown; headers: Headers },
    status: number,
    type: string,
  ): Problem {
    expect(result.status).toBe(status);
    expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = result.body as Problem;
    expect(problem).toMatchObject({ type, status });
    expect(problem.title).toEqual(expect.any(String));
    expect(problem.request_id).toBe(result.headers.get('x-request-id'));

    return problem;
  }

  it.each([
    ['an unknown field', { to: 'bob@x', body: 'hi', extra: true }, '/problems/validation', 'extra'],
    ['a wrong type', { to: 'bob@x', body: 42 }, '/problems/validation', 'body'],
    ['a missing body', { to: 'bob@x' }, '/problems/validation', 'body'],
    [
      'a control character XML cannot carry',
      { to: 'bob@x', body: 'bell \u0007' },
      '/problems/validation',
      'body',
    ],
    [
      'a lone surrogate',
      { to: 'bob@x', body: 'half \ud800 a pair' },
      '/problems/validation',
      'body',
    ],
  ])('refuses %s with 400 naming the field', async (_name, json, type, field) => {
    const result = await http(server.url, 'POST', '/api/messages', { auth: alice.basic, json });

    const problem = expectProblem(result, 400, type);
    expect(problem.errors?.map((error) => error.name)).toContain(field);
  });

  it('refuses a malformed recipient JID with 400 naming `to`', async () => {
    const result = await sendMessage(server.url, alice.basic, 'bob@@' + server.domain, 'hi');

    const problem = expectProblem(result, 400, '/problems/invalid-jid');
    expect(problem.errors).toEqual([{ name: 'to', reason: expect.any(String) }]);
  });

  it('answers 404 for a recipient that does not exist', async () => {
    expectProblem(
      await sendMessage(server.url, alice.basic, `nobody@${server.domain}`, 'hi'),
      404,
      '/problems/user-not-found',
    );
    expectProblem(
      await sendMessage(server.url, alice.basic, 'bob@elsewhere.example', 'hi'),
      404,
      '/problems/user-not-found',
    );
  });

  it('answers 413 for a body over the message size limit and for an oversized request', async () => {
    expectProblem(
      await sendMessage(server.url, alice.basic, bob.jid, 'é'.repeat(501)),
      413,
      '/problems/message-too-large',
    );
    const huge = JSON.stringify({ to: bob.jid, body: 'x'.repeat(5000) });
    expectProblem(
      await http(server.url, 'POST', '/api/messages', { auth: alice.basic, raw: huge }),
      413,
      '/problems/payload-too-large',
    );
  });

  it('refuses invalid UTF-8, invalid JSON and non-JSON bodies', async () => {
    const invalidUtf8 = Buffer.concat([
      Buffer.from(`{"to":"${bob.jid}","body":"`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    expectProblem(
      await http(server.url, 'POST', '/api/messages', { auth: alice.basic, raw: invalidUtf8 }),
      400,
      '/problems/invalid-encoding',
    );
    expectProblem(
      await http(server.url, 'POST', '/api/messages', { auth: alice.basic, raw: '{"to": ' }),
      400,
      '/problems/invalid-json',
    );
    expectProblem(
      await http(server.url, 'POST', '/api/messages', {
        auth: alice.basic,
        raw: 'to=bob',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
      '/problems/unsupported-media-type',
    );
  });

  it('refuses deeply nested bodies, prototype keys and JSON-like media types that are not JSON', async () => {
    const deep = `{"to":"${bob.jid}","body":"x","a":${'['.repeat(1500)}${']'.repeat(1500)}}`;
    expectProblem(
      await http(server.url, 'POST', '/api/messages', { auth: alice.basic, raw: deep }),
      400,
      '/problems/invalid-json',
    );
    const proto = `{"to":"${bob.jid}","body":"x","__proto__":{"admin":true}}`;
    expectProblem(
      await http(server.url, 'POST', '/api/messages', { auth: alice.basic, raw: proto }),
      400,
      '/problems/invalid-json',
    );
    const body = JSON.stringify({ to: bob.jid, body: 'x' });
    for (const type of ['application/json-patch', 'application/json; charset=utf-16le']) {
      const result = await http(server.url, 'POST', '/api/messages', {
        auth: alice.basic,
        raw: body,
        headers: { 'content-type': type },
      });
      expectProblem(result, 415, '/problems/unsupported-media-type');
    }
  });

  it('refuses malformed and repeated Idempotency-Key headers', async () => {
    for (const headers of [
      { 'Idempotency-Key': Buffer.from('ключ').toString('latin1') },
      { 'Idempotency-Key': 'x'.repeat(129) },
    ]) {
      const result = await sendMessage(server.url, alice.basic, bob.jid, 'keyed', headers);
      expectProblem(result, 400, '/problems/validation');
    }
    const twice = new Headers({ authorization: alice.basic, 'content-type': 'application/json' });
    twice.append('idempotency-key', 'a');
    const response = await fetch(`${server.url}/api/messages`, {
      method: 'POST',
      headers: [...twice.entries(), ['idempotency-key', 'b']],
      body: JSON.stringify({ to: bob.jid, body: 'keyed' }),
    });
    expect(response.status).toBe(400);
  });

  it('refuses socket.io sends with the same rules as REST', async () => {
    const socket = await connectSocket(server.url, { jid: alice.jid, password: alice.password });
    try {
      for (const payload of [
        { to: bob.jid, body: 'x', client_id: 'a\u0000b' },
        { to: bob.jid, body: 'x', client_id: 'a\ud800b' },
        { to: bob.jid, body: 'x', extra: 1 },
        { to: bob.jid, body: 42 },
        [bob.jid, 'x'],
        JSON.parse(`{"to":"${bob.jid}","body":"x","a":${'['.repeat(200)}${']'.repeat(200)}}`),
      ]) {
        const ack = (await socket.emitWithAck('message:send', payload)) as { error?: Problem };
        expect(ack.error?.status, JSON.stringify(payload).slice(0, 80)).toBe(400);
      }
    } finally {
      socket.disconnect();
    }
  });

  it('stored none of the refused messages', async () => {
    await expectNothingStored();
  });

  it('answers unknown routes and bad paging with problems too', async () => {
    expectProblem(
      await http(server.url, 'GET', '/api/nothing-here', { auth: alice.basic }),
      404,
      '/problems/not-found',
    );
    const badLimit = expectProblem(
      await http(server.url, 'GET', '/api/messages?limit=100000', { auth: alice.basic }),
      400,
      '/problems/validation',
    );
    expect(badLimit.errors?.[0]?.name).toBe('limit');
    for (const query of ['before=', 'limit=1&limit=2', 'limit=2.5', 'before=-1']) {
      expectProblem(
        await http(server.url, 'GET', `/api/messages?${query}`, { auth: alice.basic }),
        400,
        '/problems/validation',
      );
    }
    expectProblem(
      await http(server.url, 'GET', '/api/messages?before_id=nope', { auth: alice.basic }),
      400,
      '/problems/validation',
    );
    expectProblem(
      await http(server.url, 'GET', '/api/messages/not@@valid', { auth: alice.basic }),
      400,
      '/problems/invalid-jid',
    );
  });

  it('carries a request id given by the client back in the answer', async () => {
    const result = await http(server.url, 'GET', '/api/messages/x@@y', {
      auth: alice.basic,
      headers: { 'x-request-id': 'trace-123' },
    });

    expect(result.headers.get('x-request-id')).toBe('trace-123');
    expect((result.body as Problem).request_id).toBe('trace-123');
  });

  it('refuses a registration with a bad username, a short password or a taken name, writing nothing', async () => {
    const base = `/api/admin/users/${server.domain}`;
    expectProblem(
      await http(server.url, 'POST', base, {
        auth: ADMIN_AUTH,
        json: { username: 'a b', password: 'long enough' },
      }),
      400,
      '/problems/invalid-jid',
    );
    expectProblem(
      await http(server.url, 'POST', base, {
        auth: ADMIN_AUTH,
        json: { username: 'shorty', password: 'short' },
      }),
      400,
      '/problems/validation',
    );
    expectProblem(
      await http(server.url, 'POST', base, {
        auth: ADMIN_AUTH,
        json: { username: 'ALICE', password: 'long enough' },
      }),
      409,
      '/problems/user-exists',
    );
    const count = await http<{ count: number }>(server.url, 'GET', `${base}/count`, {
      auth: ADMIN_AUTH,
    });
    expect(count.body.count).toBe(2);
  });
});
