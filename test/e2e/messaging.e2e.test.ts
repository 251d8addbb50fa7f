import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import {
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

/** The archive and socket JSON, as the server defines it. */
type Message = MessageView;

describe.skipIf(!servicesUp())('one-to-one messaging over REST and socket.io', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
    carol = await registerUser(server.url, server.domain, 'carol');
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await server?.stop();
  });

  async function socketOf(user: TestUser): Promise<Socket> {
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, user) });
    sockets.push(socket);

    return socket;
  }

  it('delivers a REST message to the recipient’s socket, copies it to the sender’s, and archives both sides', async () => {
    const bobSocket = await socketOf(bob);
    const aliceSocket = await socketOf(alice);
    const received = new EventRecorder<Message>(bobSocket, 'message');
    const copies = new EventRecorder<Message>(aliceSocket, 'message:sent');

    const sent = await sendMessage(server.url, alice.basic, bob.jid, 'hello Bob');

    expect(sent.status).toBe(200);
    const [live] = await received.waitFor(1);
    expect(live).toMatchObject({
      id: sent.body.id,
      from: alice.jid,
      to: bob.jid,
      body: 'hello Bob',
      direction: 'in',
    });
    expect(live!.timestamp).toBeGreaterThan(Date.now() - 60_000);
    const [copy] = await copies.waitFor(1);
    expect(copy).toMatchObject({ id: sent.body.id, direction: 'out' });

    const bobArchive = await http<Message[]>(server.url, 'GET', `/api/messages/${alice.jid}`, {
      auth: bob.basic,
    });
    const aliceArchive = await http<Message[]>(server.url, 'GET', `/api/messages/${bob.jid}`, {
      auth: alice.basic,
    });
    expect(bobArchive.body.at(-1)).toEqual(live);
    expect(aliceArchive.body.at(-1)).toMatchObject({
      id: sent.body.id,
      from: alice.jid,
      to: bob.jid,
      body: 'hello Bob',
      direction: 'out',
    });
  });

  it('sends over the socket too, with the ack carrying the id', async () => {
    const carolSocket = await socketOf(carol);
    const bobSocket = await socketOf(bob);
    const received = new EventRecorder<Message>(bobSocket, 'message');

    const ack = (await carolSocket.emitWithAck('message:send', {
      to: bob.jid,
      body: 'from a socket',
    })) as { id: string };

    const [message] = await received.waitFor(1);
    expect(message).toMatchObject({ id: ack.id, from: carol.jid, body: 'from a socket' });
    const invalid = (await carolSocket.emitWithAck('message:send', {
      to: 'not a jid',
      body: 'x',
    })) as { error: { type: string } };
    expect(invalid.error.type).toBe('/problems/invalid-jid');
  });

  it('pages through 200 messages forward and backward with no gap or duplicate', async () => {
    const [dave, erin] = await Promise.all([
      registerUser(server.url, server.domain, 'dave'),
      registerUser(server.url, server.domain, 'erin'),
    ]);
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch += 1) {
      // 20 concurrent sends at a time, so many share a millisecond and a commit batch.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          sendMessage(server.url, dave.basic, erin.jid, `m${batch * 20 + i}`),
        ),
      );
      ids.push(...results.map((result) => result.body.id));
    }
    const expected = [...ids].sort();

    const forward: string[] = [];
    let cursor: string | undefined;
    const first = await http<Message[]>(
      server.url,
      'GET',
      `/api/messages/${dave.jid}?limit=1&before=${Date.now() - 3_600_000}`,
      { auth: erin.basic },
    );
    expect(first.body).toEqual([]);
    for (;;) {
      const query =
        cursor === undefined
          ? 'limit=30&after_id=00000000-0000-7000-8000-000000000000'
          : `limit=30&after_id=${cursor}`;
      const page = await http<Message[]>(server.url, 'GET', `/api/messages/${dave.jid}?${query}`, {
        auth: erin.basic,
      });
      expect(page.status).toBe(200);
      if (page.body.length === 0) {
        break;
      }
      forward.push(...page.body.map((message) => message.id));
      cursor = page.body.at(-1)!.id;
    }
    expect(forward).toEqual(expected);

    const backward: string[] = [];
    cursor = undefined;
    for (;;) {
      const query: string = cursor === undefined ? 'limit=45' : `limit=45&before_id=${cursor}`;
      const page: { body: Message[] } = await http<Message[]>(
        server.url,
        'GET',
        `/api/messages/${erin.jid}?${query}`,
        { auth: dave.basic },
      );
      if (page.body.length === 0) {
        break;
      }
      const pageIds: string[] = page.body.map((message) => message.id);
      expect(pageIds).toEqual([...pageIds].sort());
      backward.unshift(...pageIds);
      cursor = pageIds[0];
    }
    expect(backward).toEqual(expected);

    const all = await http<Message[]>(server.url, 'GET', '/api/messages?limit=500', {
      auth: erin.basic,
    });
    expect(
      all.body.filter((message) => message.from === dave.jid).map((message) => message.id),
    ).toEqual(expected);
  });

  it('returns the first result for a retried send with the same idempotency key, storing one message', async () => {
    const key = `retry-${Date.now()}`;
    const [first, second] = await Promise.all([
      sendMessage(server.url, carol.basic, alice.jid, 'only once', { 'Idempotency-Key': key }),
      sendMessage(server.url, carol.basic, alice.jid, 'only once', { 'Idempotency-Key': key }),
    ]);
    const third = await http<{ id: string }>(server.url, 'POST', '/api/messages', {
      auth: carol.basic,
      json: { to: alice.jid, body: 'only once', client_id: key },
    });

    expect(first.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(third.body.id).toBe(first.body.id);
    const archive = await http<Message[]>(server.url, 'GET', `/api/messages/${carol.jid}`, {
      auth: alice.basic,
    });
    expect(archive.body.filter((message) => message.body === 'only once')).toHaveLength(1);

    // The same key on a different message is not a retry: refused, and nothing stored.
    const reused = await sendMessage(server.url, carol.basic, bob.jid, 'something else', {
      'Idempotency-Key': key,
    });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ type: '/problems/idempotency-key-reused' });
    const bobArchive = await http<Message[]>(server.url, 'GET', `/api/messages/${carol.jid}`, {
      auth: bob.basic,
    });
    expect(bobArchive.body.some((message) => message.body === 'something else')).toBe(false);
  });

  it('streams messages over SSE and replays what was missed after Last-Event-ID', async () => {
    const first = await sendMessage(server.url, carol.basic, bob.jid, 'before the stream');
    const missed = await sendMessage(server.url, carol.basic, bob.jid, 'missed while away');
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/sse`, {
      headers: { authorization: bob.basic, 'last-event-id': first.body.id },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      const deadline = Date.now() + 5000;
      while (!text.includes(needle)) {
        if (Date.now() > deadline) {
          throw new Error(`SSE did not show ${needle}; got ${text}`);
        }
        const chunk = await reader.read();
        text += new TextDecoder().decode(chunk.value);
      }
    };
    await readUntil(missed.body.id);
    const live = await sendMessage(server.url, carol.basic, bob.jid, 'live over SSE');
    await readUntil(`id: ${live.body.id}`);
    controller.abort();

    expect(text).not.toContain(`id: ${first.body.id}`);
    expect(text).toContain(`id: ${missed.body.id}\nevent: message\n`);
    expect(text.indexOf(missed.body.id)).toBeLessThan(text.indexOf(live.body.id));
    expect(text.split(`id: ${live.body.id}\n`)).toHaveLength(2);
  });
});
