import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ADMIN_AUTH, http, registerUser, type TestUser } from '#test/helpers/api.js';
import { addMember, createRoom, sendToRoom } from '#test/helpers/rooms.js';
import { createTestDatabase, servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { WebhookReceiver } from '#test/helpers/webhook-receiver.js';

describe.skipIf(!servicesUp())('room webhook events', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    database = await createTestDatabase('rooms_events');
    server = await startTestServer({
      DATABASE_URL: database.url,
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_SWEEP_SECONDS: '1',
    });
    receiver = await WebhookReceiver.start();
    [alice, bob] = await Promise.all([
      registerUser(server.url, server.domain, 'alice'),
      registerUser(server.url, server.domain, 'bob'),
    ]);
    const endpoint = await http(server.url, 'POST', '/api/admin/webhooks', {
      auth: ADMIN_AUTH,
      json: { url: receiver.url, events: ['room.*'], headers: { 'x-endpoint': 'rooms' } },
    });
    expect(endpoint.status).toBe(201);
  });

  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await database?.drop();
  });

  it('publishes a room’s life as events of one conversation, in order, and nothing for refused writes', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Hooks', subject: 'Events' });
    await addMember(server.url, alice.basic, room, bob.jid);
    // Refused: a member may not add, and nothing is recorded for it.
    expect(
      (
        await http(server.url, 'POST', `/api/rooms/${room}/users`, {
          auth: bob.basic,
          json: { user: alice.jid },
        })
      ).status,
    ).toBe(403);
    const sent = await sendToRoom(server.url, bob.basic, room, 'hook me', 'k1');
    await http(server.url, 'PUT', `/api/rooms/${room}/config`, {
      auth: alice.basic,
      json: { name: 'Hooks 2' },
    });
    await http(server.url, 'DELETE', `/api/rooms/${room}/users/${bob.jid}`, { auth: bob.basic });
    await http(server.url, 'DELETE', `/api/rooms/${room}`, { auth: alice.basic });

    await receiver.waitFor('rooms', 6);
    const events = receiver.events('rooms').filter((event) => event.data.room === room);
    expect(events.map((event) => event.type)).toEqual([
      'room.created',
      'room.member_added',
      'room.message_created',
      'room.config_changed',
      'room.member_removed',
      'room.destroyed',
    ]);
    expect(new Set(events.map((event) => event.conversation!.id))).toEqual(
      new Set([`room:${room}`]),
    );
    const sequences = events.map((event) => event.conversation!.sequence);
    expect(sequences).toEqual(sequences.map((_, index) => sequences[0]! + index));
    expect(events.every((event) => event.domain === server.domain && event.version === 1)).toBe(
      true,
    );
    expect(events.map((event) => event.data)).toEqual([
      { room, name: 'Hooks', subject: 'Events', owner: alice.jid },
      { room, member: bob.jid, role: 'member', by: alice.jid },
      {
        room,
        id: sent.body.id,
        from: bob.jid,
        body: 'hook me',
        timestamp: expect.any(Number),
        client_id: 'k1',
      },
      {
        room,
        name: 'Hooks 2',
        subject: 'Events',
        settings: { configure: 'owners', invite: 'owners', remove: 'owners' },
        by: alice.jid,
      },
      { room, member: bob.jid, reason: 'left' },
      { room, by: alice.jid },
    ]);
  });

  it('records a deleted member’s departure with the deletion', async () => {
    const carol = await registerUser(server.url, server.domain, 'carol');
    const room = await createRoom(server.url, alice.basic, { name: 'Gone' });
    await addMember(server.url, alice.basic, room, carol.jid);

    await http(server.url, 'DELETE', `/api/admin/users/${server.domain}/carol`, {
      auth: ADMIN_AUTH,
    });

    const ofRoom = () => receiver.events('rooms').filter((event) => event.data.room === room);
    await expect.poll(() => ofRoom().length, { timeout: 8000 }).toBe(3);
    expect(ofRoom().map((event) => [event.type, event.data])).toEqual([
      ['room.created', expect.objectContaining({ owner: alice.jid })],
      ['room.member_added', expect.objectContaining({ member: carol.jid })],
      ['room.member_removed', { room, member: carol.jid, reason: 'account_deleted' }],
    ]);
  });
});
