import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ADMIN_AUTH,
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import {
  addMember,
  createRoom,
  roomArchive,
  roomDetails,
  sendToRoom,
  type RoomEntry,
} from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';

describe.skipIf(!servicesUp())('rooms over REST and socket.io', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    [alice, bob, carol, dave] = (await Promise.all(
      ['alice', 'bob', 'carol', 'dave'].map((name) =>
        registerUser(server.url, server.domain, name),
      ),
    )) as [TestUser, TestUser, TestUser, TestUser];
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

  const kinds = (entries: RoomEntry[]) => entries.map((entry) => entry.kind);

  it('creates a room with the creator as owner, lists it, and shows its details', async () => {
    const created = await http<{ id: string }>(server.url, 'POST', '/api/rooms', {
      auth: alice.basic,
      json: { name: 'Team', subject: 'Planning' },
    });

    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const listed = await http(server.url, 'GET', '/api/rooms', { auth: alice.basic });
    expect(listed.body).toContainEqual({ id, name: 'Team', subject: 'Planning' });
    const details = await roomDetails(server.url, alice.basic, id);
    expect(details).toMatchObject({
      id,
      domain: server.domain,
      name: 'Team',
      subject: 'Planning',
      settings: { configure: 'owners', invite: 'owners', remove: 'owners' },
      participants: [{ user: alice.jid, role: 'owner' }],
    });
    expect(kinds(await roomArchive(server.url, alice.basic, id))).toEqual([
      'room_created',
      'member_joined',
    ]);
    const bobsRooms = await http<unknown[]>(server.url, 'GET', '/api/rooms', { auth: bob.basic });
    expect(bobsRooms.body).not.toContainEqual(expect.objectContaining({ id }));
  });

  it('creates a room with a chosen id (case-folded), and refuses a taken one with 409', async () => {
    const first = await http(server.url, 'PUT', '/api/rooms/Chosen-Room', {
      auth: alice.basic,
      json: { name: 'Chosen' },
    });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ id: 'chosen-room' });

    const again = await http(server.url, 'PUT', '/api/rooms/chosen-room', {
      auth: bob.basic,
      json: { name: 'Mine now' },
    });

    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ type: '/problems/room-exists' });
    expect((await roomDetails(server.url, alice.basic, 'chosen-room')).name).toBe('Chosen');
    const bad = await http(server.url, 'PUT', '/api/rooms/no%20spaces', {
      auth: alice.basic,
      json: { name: 'x' },
    });
    expect(bad.status).toBe(400);
  });

  it('stores a message once and fans it out to every member’s sockets, with the key only for the sender', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Fan-out' });
    await addMember(server.url, alice.basic, room, bob.jid);
    await addMember(server.url, alice.basic, room, carol.jid);
    const [bobPhone, bobLaptop, carolPhone, alicePhone, daveOutsider] = await Promise.all([
      socketOf(bob),
      socketOf(bob),
      socketOf(carol),
      socketOf(alice),
      socketOf(dave),
    ]);
    const received = [bobPhone, bobLaptop, carolPhone, alicePhone].map(
      (socket) => new EventRecorder<RoomEntry>(socket, 'room:message'),
    );
    const outsider = new EventRecorder<RoomEntry>(daveOutsider, 'room:message');

    const sent = await sendToRoom(server.url, alice.basic, room, 'hello team', 'key-1');

    expect(sent.status).toBe(200);
    for (const recorder of received) {
      const [message] = await recorder.waitFor(1);
      expect(message).toMatchObject({
        id: sent.body.id,
        room,
        kind: 'message',
        from: alice.jid,
        body: 'hello team',
      });
    }
    expect(received[3]!.events[0]!.client_id).toBe('key-1');
    expect(received[0]!.events[0]!.client_id).toBeUndefined();
    const archive = await roomArchive(server.url, bob.basic, room);
    expect(archive.filter((entry) => entry.kind === 'message')).toEqual([
      {
        id: sent.body.id,
        room,
        kind: 'message',
        from: alice.jid,
        body: 'hello team',
        timestamp: expect.any(Number),
      },
    ]);
    const aliceView = await roomArchive(server.url, alice.basic, room);
    expect(aliceView.at(-1)).toMatchObject({ id: sent.body.id, client_id: 'key-1' });
    expect(outsider.events).toEqual([]);
  });

  it('sends over socket.io with room:send: an ack with the id, no copy to the sending socket', async () => {
    const room = await createRoom(server.url, carol.basic, { name: 'Sockets' });
    await addMember(server.url, carol.basic, room, dave.jid);
    const [carolSending, carolOther, daveSocket, outsider] = await Promise.all([
      socketOf(carol),
      socketOf(carol),
      socketOf(dave),
      socketOf(bob),
    ]);
    const echoes = new EventRecorder<RoomEntry>(carolSending, 'room:message');
    const copies = new EventRecorder<RoomEntry>(carolOther, 'room:message');
    const received = new EventRecorder<RoomEntry>(daveSocket, 'room:message');

    const ack = (await carolSending.emitWithAck('room:send', {
      room,
      body: 'over the socket',
      client_id: 'sock-1',
    })) as { id: string };
    const refused = (await outsider.emitWithAck('room:send', { room, body: 'me too' })) as {
      error: { type: string };
    };
    const invalid = (await carolSending.emitWithAck('room:send', { room, body: '' })) as {
      error: { type: string };
    };

    expect(ack.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await received.waitFor(1))[0]).toMatchObject({ id: ack.id, from: carol.jid });
    expect((await copies.waitFor(1))[0]).toMatchObject({ id: ack.id, client_id: 'sock-1' });
    expect(refused.error.type).toBe('/problems/room-not-found');
    expect(invalid.error.type).toBe('/problems/validation');
    // A later REST message reaches the sending socket, so the missing echo is not a late one.
    const later = await sendToRoom(server.url, dave.basic, room, 'back over REST');
    expect((await echoes.waitFor(1))[0]!.id).toBe(later.body.id);
    expect(
      (await roomArchive(server.url, dave.basic, room))
        .filter((entry) => entry.kind === 'message')
        .map((entry) => entry.body),
    ).toEqual(['over the socket', 'back over REST']);
  });

  it('answers a retry with the same client_id with the first id, and a reused key with 422', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Retries' });
    const first = await sendToRoom(server.url, alice.basic, room, 'once', 'retry-key');
    const retry = await sendToRoom(server.url, alice.basic, room, 'once', 'retry-key');
    const reused = await sendToRoom(server.url, alice.basic, room, 'different', 'retry-key');

    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ type: '/problems/idempotency-key-reused' });
    const messages = (await roomArchive(server.url, alice.basic, room)).filter(
      (entry) => entry.kind === 'message',
    );
    expect(messages.map((entry) => entry.body)).toEqual(['once']);
  });

  it('pages the room archive like the one-to-one archive', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Paging' });
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      ids.push((await sendToRoom(server.url, alice.basic, room, `m${i}`)).body.id);
    }
    const page = (query: string) => roomArchive(server.url, alice.basic, room, query);

    expect((await page('?limit=3')).map((entry) => entry.body)).toEqual(['m4', 'm5', 'm6']);
    expect((await page(`?limit=2&before_id=${ids[4]}`)).map((entry) => entry.body)).toEqual([
      'm2',
      'm3',
    ]);
    expect((await page(`?limit=2&after_id=${ids[1]}`)).map((entry) => entry.body)).toEqual([
      'm2',
      'm3',
    ]);
    const everything = await page('?limit=500');
    expect(everything.map((entry) => entry.id)).toEqual(
      [...everything.map((entry) => entry.id)].sort(),
    );
    expect(
      (await http(server.url, 'GET', `/api/rooms/${room}/messages?limit=0`, { auth: alice.basic }))
        .status,
    ).toBe(400);
  });

  it('keeps owners-only defaults, and opens invite and configure to members through settings', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Rules' });
    await addMember(server.url, alice.basic, room, bob.jid);

    const memberInvites = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: bob.basic,
      json: { user: carol.jid },
    });
    expect(memberInvites.status).toBe(403);
    expect(memberInvites.body).toMatchObject({ type: '/problems/room-forbidden' });
    const memberRenames = await http(server.url, 'PUT', `/api/rooms/${room}/config`, {
      auth: bob.basic,
      json: { name: 'Bob’s' },
    });
    expect(memberRenames.status).toBe(403);
    const memberOpensUp = await http(server.url, 'PUT', `/api/rooms/${room}/config`, {
      auth: bob.basic,
      json: { settings: { invite: 'members' } },
    });
    expect(memberOpensUp.status).toBe(403);

    const bobSocket = await socketOf(bob);
    const updates = new EventRecorder<RoomEntry>(bobSocket, 'room:updated');
    const opened = await http(server.url, 'PUT', `/api/rooms/${room}/config`, {
      auth: alice.basic,
      json: { subject: 'Open house', settings: { invite: 'members', configure: 'members' } },
    });
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({
      subject: 'Open house',
      settings: { invite: 'members', configure: 'members', remove: 'owners' },
    });
    expect((await updates.waitFor(1))[0]).toMatchObject({
      kind: 'config_changed',
      from: alice.jid,
      subject: 'Open house',
    });

    await addMember(server.url, bob.basic, room, carol.jid);
    const renamed = await http(server.url, 'PUT', `/api/rooms/${room}/config`, {
      auth: bob.basic,
      json: { name: 'Renamed by Bob' },
    });
    expect(renamed.status).toBe(200);
    // Adding an owner and removing others still take an owner.
    const bobAddsOwner = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: bob.basic,
      json: { user: dave.jid, role: 'owner' },
    });
    expect(bobAddsOwner.status).toBe(403);
    const bobRemovesCarol = await http(
      server.url,
      'DELETE',
      `/api/rooms/${room}/users/${carol.jid}`,
      { auth: bob.basic },
    );
    expect(bobRemovesCarol.status).toBe(403);
    const details = await roomDetails(server.url, carol.basic, room);
    expect(details.name).toBe('Renamed by Bob');
    expect(details.participants.map((participant) => participant.user)).toEqual([
      alice.jid,
      bob.jid,
      carol.jid,
    ]);
  });

  it('refuses adding an unknown user, a member twice, and removing a non-member, storing nothing', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Refusals' });
    await addMember(server.url, alice.basic, room, bob.jid);
    const before = await roomArchive(server.url, alice.basic, room);

    const unknown = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: alice.basic,
      json: { user: `nobody@${server.domain}` },
    });
    const otherDomain = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: alice.basic,
      json: { user: 'bob@not-served.example' },
    });
    const twice = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: alice.basic,
      json: { user: bob.jid },
    });
    const notIn = await http(server.url, 'DELETE', `/api/rooms/${room}/users/${carol.jid}`, {
      auth: alice.basic,
    });
    const badJid = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: alice.basic,
      json: { user: 'not a jid' },
    });
    const badRole = await http(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: alice.basic,
      json: { user: carol.jid, role: 'admin' },
    });

    expect(unknown).toMatchObject({ status: 404, body: { type: '/problems/user-not-found' } });
    expect(otherDomain).toMatchObject({ status: 404, body: { type: '/problems/user-not-found' } });
    expect(twice).toMatchObject({ status: 409, body: { type: '/problems/room-member-exists' } });
    expect(notIn).toMatchObject({
      status: 404,
      body: { type: '/problems/room-member-not-found' },
    });
    expect(badJid).toMatchObject({ status: 400, body: { type: '/problems/invalid-jid' } });
    expect(badRole).toMatchObject({ status: 400, body: { type: '/problems/validation' } });
    expect(await roomArchive(server.url, alice.basic, room)).toEqual(before);
  });

  it('records joins and departures in every member’s history and pushes them live', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'History' });
    const carolSocket = await socketOf(carol);
    const carolHears = new EventRecorder<RoomEntry>(carolSocket, 'room:member');
    await addMember(server.url, alice.basic, room, carol.jid);
    await addMember(server.url, alice.basic, room, bob.jid);
    await sendToRoom(server.url, bob.basic, room, 'hi all');
    expect(
      (await http(server.url, 'DELETE', `/api/rooms/${room}/users/${bob.jid}`, { auth: bob.basic }))
        .status,
    ).toBe(204);

    const entries = await carolHears.waitFor(3);
    expect(entries.map((entry) => [entry.kind, entry.member, entry.from])).toEqual([
      ['member_joined', carol.jid, alice.jid],
      ['member_joined', bob.jid, alice.jid],
      ['member_left', bob.jid, bob.jid],
    ]);
    const history = await roomArchive(server.url, carol.basic, room);
    expect(history.map((entry) => [entry.kind, entry.member ?? entry.body])).toEqual([
      ['room_created', undefined],
      ['member_joined', alice.jid],
      ['member_joined', carol.jid],
      ['member_joined', bob.jid],
      ['message', 'hi all'],
      ['member_left', bob.jid],
    ]);
    expect(history[5]).toMatchObject({ reason: 'left' });
    // Bob left: the room is no longer his to read.
    const afterLeaving = await http(server.url, 'GET', `/api/rooms/${room}/messages`, {
      auth: bob.basic,
    });
    expect(afterLeaving.status).toBe(404);
  });

  it('makes the longest-standing member owner when the last owner leaves', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Succession' });
    await addMember(server.url, alice.basic, room, bob.jid, 'owner');
    await addMember(server.url, alice.basic, room, carol.jid);
    await addMember(server.url, alice.basic, room, dave.jid);
    const leave = (user: TestUser) =>
      http(server.url, 'DELETE', `/api/rooms/${room}/users/${user.jid}`, { auth: user.basic });

    expect((await leave(alice)).status).toBe(204);
    // Bob is still an owner: nobody is promoted.
    const roles = async () =>
      Object.fromEntries(
        (await roomDetails(server.url, carol.basic, room)).participants.map((p) => [
          p.user,
          p.role,
        ]),
      );
    expect(await roles()).toEqual({
      [bob.jid]: 'owner',
      [carol.jid]: 'member',
      [dave.jid]: 'member',
    });
    expect((await leave(bob)).status).toBe(204);

    expect(await roles()).toEqual({ [carol.jid]: 'owner', [dave.jid]: 'member' });
    const last = (await roomArchive(server.url, dave.basic, room)).at(-1);
    expect(last).toMatchObject({ kind: 'role_changed', member: carol.jid, role: 'owner' });
    expect(last!.from).toBeUndefined();
    // The new owner has an owner's rights.
    expect(
      (
        await http(server.url, 'PUT', `/api/rooms/${room}/config`, {
          auth: carol.basic,
          json: { name: 'Carol’s now' },
        })
      ).status,
    ).toBe(200);
  });

  it('destroys a room when its last member leaves, and tells them', async () => {
    const room = await createRoom(server.url, dave.basic, { name: 'Solo' });
    const daveSocket = await socketOf(dave);
    const destroyed = new EventRecorder<{ room: string; by?: string }>(
      daveSocket,
      'room:destroyed',
    );

    const left = await http(server.url, 'DELETE', `/api/rooms/${room}/users/${dave.jid}`, {
      auth: dave.basic,
    });

    expect(left.status).toBe(204);
    expect((await destroyed.waitFor(1))[0]).toMatchObject({ room });
    const gone = await http(server.url, 'GET', `/api/admin/rooms/${room}`, { auth: ADMIN_AUTH });
    expect(gone.status).toBe(404);
  });

  it('lets owners, and only owners, destroy a room; every member hears of it', async () => {
    const room = await createRoom(server.url, alice.basic, { name: 'Doomed' });
    await addMember(server.url, alice.basic, room, bob.jid);
    const bobSocket = await socketOf(bob);
    const destroyed = new EventRecorder<{ room: string; by?: string }>(bobSocket, 'room:destroyed');

    const byMember = await http(server.url, 'DELETE', `/api/rooms/${room}`, { auth: bob.basic });
    expect(byMember).toMatchObject({ status: 403, body: { type: '/problems/room-forbidden' } });
    const byOwner = await http(server.url, 'DELETE', `/api/rooms/${room}`, { auth: alice.basic });

    expect(byOwner.status).toBe(204);
    expect((await destroyed.waitFor(1))[0]).toMatchObject({ room, by: alice.jid });
    const listed = await http<{ id: string }[]>(server.url, 'GET', '/api/rooms', {
      auth: bob.basic,
    });
    expect(listed.body.map((entry) => entry.id)).not.toContain(room);
    expect(
      (await http(server.url, 'GET', `/api/rooms/${room}/messages`, { auth: alice.basic })).status,
    ).toBe(404);
  });

  it('keeps a deleted member’s messages under their address, records the departure, and hands on ownership', async () => {
    const erin = await registerUser(server.url, server.domain, 'erin');
    const room = await createRoom(server.url, erin.basic, { name: 'Erin’s' });
    await addMember(server.url, erin.basic, room, alice.jid);
    await addMember(server.url, erin.basic, room, bob.jid);
    await sendToRoom(server.url, erin.basic, room, 'before I go');
    const aliceSocket = await socketOf(alice);
    const aliceHears = new EventRecorder<RoomEntry>(aliceSocket, 'room:member');

    const deleted = await http(server.url, 'DELETE', `/api/admin/users/${server.domain}/erin`, {
      auth: ADMIN_AUTH,
    });

    expect(deleted.status).toBe(204);
    const history = await roomArchive(server.url, alice.basic, room);
    expect(history.find((entry) => entry.kind === 'message')).toMatchObject({
      from: erin.jid,
      body: 'before I go',
    });
    expect(history.slice(-2)).toMatchObject([
      { kind: 'member_left', member: erin.jid, reason: 'account_deleted' },
      { kind: 'role_changed', member: alice.jid, role: 'owner' },
    ]);
    expect((await aliceHears.waitFor(2)).map((entry) => entry.kind)).toEqual([
      'member_left',
      'role_changed',
    ]);
    const details = await roomDetails(server.url, bob.basic, room);
    expect(details.participants).toEqual([
      expect.objectContaining({ user: alice.jid, role: 'owner' }),
      expect.objectContaining({ user: bob.jid, role: 'member' }),
    ]);
  });

  it('lets members of other served domains in', async () => {
    const otherDomain = uniqueDomain();
    const added = await http(server.url, 'POST', '/api/admin/domains', {
      auth: ADMIN_AUTH,
      json: { name: otherDomain },
    });
    expect(added.status).toBe(201);
    const frank = await registerUser(server.url, otherDomain, 'frank');
    const room = await createRoom(server.url, alice.basic, { name: 'Federated' });

    await addMember(server.url, alice.basic, room, frank.jid);

    const sent = await sendToRoom(server.url, frank.basic, room, 'from the other domain');
    expect(sent.status).toBe(200);
    expect((await roomDetails(server.url, frank.basic, room)).domain).toBe(server.domain);
  });
});
