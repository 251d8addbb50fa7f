import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import {
  ADMIN_AUTH,
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';

/** The archive and socket JSON, as the server defines it. */
type Message = MessageView;

describe.skipIf(!servicesUp())('admin API', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const sockets: Socket[] = [];
  const admin = (method: string, path: string, json?: unknown) =>
    http<any>(server.url, method, path, {
      auth: ADMIN_AUTH,
      ...(json === undefined ? {} : { json }),
    });

  beforeAll(async () => {
    server = await startTestServer({ SYSTEM_SENDER: 'notices@system.invalid' });
    [alice, bob] = await Promise.all([
      registerUser(server.url, server.domain, 'alice'),
      registerUser(server.url, server.domain, 'bob'),
    ]);
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await server?.stop();
  });

  it('registers, lists in pages, counts and finds users', async () => {
    await Promise.all(
      ['u1', 'u2', 'u3'].map((name) => registerUser(server.url, server.domain, name)),
    );

    const first = await admin('GET', `/api/admin/users/${server.domain}?limit=2`);
    const second = await admin(
      'GET',
      `/api/admin/users/${server.domain}?limit=2&after=${first.body.next}`,
    );
    const third = await admin(
      'GET',
      `/api/admin/users/${server.domain}?limit=2&after=${second.body.next}`,
    );
    const listed = [...first.body.users, ...second.body.users, ...third.body.users].map(
      (user: { jid: string }) => user.jid,
    );
    expect(listed).toEqual(
      ['alice', 'bob', 'u1', 'u2', 'u3'].map((name) => `${name}@${server.domain}`),
    );
    expect(third.body.next).toBeUndefined();
    expect((await admin('GET', `/api/admin/users/${server.domain}/count`)).body).toEqual({
      count: 5,
    });
    expect((await admin('GET', `/api/admin/users/${server.domain}/ALICE`)).body.jid).toBe(
      alice.jid,
    );
    expect((await admin('GET', `/api/admin/users/${server.domain}/nobody`)).status).toBe(404);
    expect((await admin('GET', '/api/admin/users/unknown.example')).status).toBe(404);
    expect((await admin('GET', `/api/admin/users/${server.domain}?after=%00`)).status).toBe(400);
  });

  it('changes a password: the old one and its tokens stop working, the new one works', async () => {
    const user = await registerUser(server.url, server.domain, 'changer', 'first-password');
    const token = await tokenFor(server.url, user);

    expect(
      (
        await admin('PUT', `/api/admin/users/${server.domain}/changer`, {
          password: 'second-password',
        })
      ).status,
    ).toBe(204);

    expect((await http(server.url, 'GET', '/api/messages', { auth: user.basic })).status).toBe(401);
    expect(
      (await http(server.url, 'GET', '/api/messages', { auth: `Bearer ${token}` })).status,
    ).toBe(401);
    const renewed = {
      ...user,
      password: 'second-password',
      basic: `Basic ${Buffer.from(`${user.jid}:second-password`).toString('base64')}`,
    };
    expect((await http(server.url, 'GET', '/api/messages', { auth: renewed.basic })).status).toBe(
      200,
    );
  });

  it('deletes a user with their data, leaving the other side’s history', async () => {
    const leaver = await registerUser(server.url, server.domain, 'leaver');
    await sendMessage(server.url, leaver.basic, alice.jid, 'goodbye');
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, leaver) });
    const closed = new Promise((resolve) => socket.on('disconnect', resolve));

    expect((await admin('DELETE', `/api/admin/users/${server.domain}/leaver`)).status).toBe(204);

    await closed;
    expect((await admin('GET', `/api/admin/users/${server.domain}/leaver`)).status).toBe(404);
    expect((await http(server.url, 'GET', '/api/messages', { auth: leaver.basic })).status).toBe(
      401,
    );
    expect((await sendMessage(server.url, alice.basic, leaver.jid, 'are you there?')).status).toBe(
      404,
    );
    const kept = await http<Message[]>(server.url, 'GET', `/api/messages/${leaver.jid}`, {
      auth: alice.basic,
    });
    expect(kept.body.map((message) => message.body)).toEqual(['goodbye']);
    // Registering the name again starts from an empty archive.
    const again = await registerUser(server.url, server.domain, 'leaver');
    expect(
      (await http<Message[]>(server.url, 'GET', '/api/messages', { auth: again.basic })).body,
    ).toEqual([]);
  });

  it('adds, disables, enables and removes domains', async () => {
    const domain = uniqueDomain();
    expect(
      (await admin('POST', '/api/admin/domains', { name: domain.toUpperCase() })).body,
    ).toMatchObject({ name: domain, enabled: true });
    expect((await admin('POST', '/api/admin/domains', { name: domain })).status).toBe(409);
    const carol = await registerUser(server.url, domain, 'carol');
    expect(
      (await admin('GET', '/api/admin/domains')).body.map((row: { name: string }) => row.name),
    ).toContain(domain);

    expect(
      (await admin('PATCH', `/api/admin/domains/${domain}`, { enabled: false })).body.enabled,
    ).toBe(false);
    expect((await http(server.url, 'GET', '/api/messages', { auth: carol.basic })).status).toBe(
      403,
    );
    expect((await sendMessage(server.url, alice.basic, carol.jid, 'hi')).status).toBe(404);
    await admin('PATCH', `/api/admin/domains/${domain}`, { enabled: true });
    expect((await sendMessage(server.url, alice.basic, carol.jid, 'hi')).status).toBe(200);

    expect((await admin('DELETE', `/api/admin/domains/${domain}`)).status).toBe(204);
    expect((await admin('GET', `/api/admin/users/${domain}/carol`)).status).toBe(404);
    expect((await admin('DELETE', `/api/admin/domains/${domain}`)).status).toBe(404);
  });

  it('ends the sessions and refuses the tokens of a disabled domain at once', async () => {
    const domain = uniqueDomain();
    await admin('POST', '/api/admin/domains', { name: domain });
    const dora = await registerUser(server.url, domain, 'dora');
    const token = await tokenFor(server.url, dora);
    // Used once, so the token is in the verified cache.
    expect(
      (await http(server.url, 'GET', '/api/messages', { auth: `Bearer ${token}` })).status,
    ).toBe(200);
    const socket = await connectSocket(server.url, { token });
    const closed = new EventRecorder<{ reason: string }>(socket, 'session:closed');

    await admin('PATCH', `/api/admin/domains/${domain}`, { enabled: false });

    expect((await closed.waitFor(1))[0]!.reason).toBe('domain disabled or removed');
    const refused = await http(server.url, 'GET', '/api/messages', { auth: `Bearer ${token}` });
    expect(refused.status).toBe(403);
    await admin('DELETE', `/api/admin/domains/${domain}`);
    expect(
      (await http(server.url, 'GET', '/api/messages', { auth: `Bearer ${token}` })).status,
    ).toBe(401);
    expect((await http(server.url, 'GET', '/api/messages', { auth: dora.basic })).status).toBe(401);
  });

  it('lists online sessions and kicks one', async () => {
    const socket = await connectSocket(server.url, {
      token: await tokenFor(server.url, bob),
      resource: 'phone',
    });
    sockets.push(socket);
    const closed = new EventRecorder<{ reason: string }>(socket, 'session:closed');

    const ofUser = await admin('GET', `/api/admin/sessions/${server.domain}/bob`);
    const ofDomain = await admin('GET', `/api/admin/sessions/${server.domain}`);
    expect(ofUser.body).toEqual([
      expect.objectContaining({ jid: `${bob.jid}/phone`, transport: 'socket.io' }),
    ]);
    expect(ofDomain.body.map((session: { id: string }) => session.id)).toContain(ofUser.body[0].id);

    expect(
      (await admin('DELETE', `/api/admin/sessions/${server.domain}/alice/${ofUser.body[0].id}`))
        .status,
    ).toBe(404);
    expect(
      (await admin('DELETE', `/api/admin/sessions/${server.domain}/bob/${ofUser.body[0].id}`))
        .status,
    ).toBe(204);
    expect((await closed.waitFor(1))[0]).toEqual({ reason: 'kicked by an administrator' });
    await expect
      .poll(async () => (await admin('GET', `/api/admin/sessions/${server.domain}/bob`)).body, {
        timeout: 3000,
      })
      .toEqual([]);
  });

  it('sends as a user exactly as the user would, and as the system sender', async () => {
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, bob) });
    sockets.push(socket);
    const received = new EventRecorder<Message>(socket, 'message');

    const asAlice = await admin('POST', '/api/admin/messages', {
      from: alice.jid,
      to: bob.jid,
      body: 'from the backend',
    });
    const asSystem = await admin('POST', '/api/admin/messages', {
      to: bob.jid,
      body: 'maintenance tonight',
    });

    expect([asAlice.status, asSystem.status]).toEqual([200, 200]);
    const live = await received.waitFor(2);
    expect(live.map((message) => [message.from, message.body])).toEqual([
      [alice.jid, 'from the backend'],
      ['notices@system.invalid', 'maintenance tonight'],
    ]);
    const aliceSide = await http<Message[]>(server.url, 'GET', `/api/messages/${bob.jid}`, {
      auth: alice.basic,
    });
    expect(aliceSide.body.at(-1)).toMatchObject({ id: asAlice.body.id, direction: 'out' });
    expect(
      (
        await admin('POST', '/api/admin/messages', {
          from: `ghost@${server.domain}`,
          to: bob.jid,
          body: 'x',
        })
      ).status,
    ).toBe(404);
  });

  it('reads a user’s archive with the client API’s paging', async () => {
    const archive = await admin('GET', `/api/admin/messages/${bob.jid}?limit=1`);
    const conversation = await admin('GET', `/api/admin/messages/${bob.jid}/${alice.jid}`);

    expect(archive.body).toHaveLength(1);
    expect(
      conversation.body.every((message: Message) => [message.from, message.to].includes(alice.jid)),
    ).toBe(true);
    expect(conversation.body.length).toBeGreaterThan(0);
    expect((await admin('GET', `/api/admin/messages/nobody@${server.domain}`)).status).toBe(404);
  });
});
