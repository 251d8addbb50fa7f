import { request as httpRequest } from 'node:http';

import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import {
  connectSocket,
  http,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

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
    server = await startTestServer();
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
  function sendInPieces(
    pieces: readonly Buffer[],
    headers: Record<string, string>,
  ): Promise<{ status: number; body: { id?: string; type?: string } }> {
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0);

    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/api/messages`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': length, ...headers },
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
