import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ADMIN_AUTH, http, registerUser, type TestUser } from '#test/helpers/api.js';
import { addMember, createRoom, roomArchive, roomDetails } from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
}

/** Every client route that names a room, with a body it would accept from a member. */
function roomRoutes(
  room: string,
  someone: string,
): { method: string; path: string; json?: unknown }[] {
  return [
    { method: 'GET', path: `/api/rooms/${room}` },
    { method: 'DELETE', path: `/api/rooms/${room}` },
    { method: 'PUT', path: `/api/rooms/${room}/config`, json: { name: 'Taken over' } },
    { method: 'POST', path: `/api/rooms/${room}/users`, json: { user: someone } },
    { method: 'DELETE', path: `/api/rooms/${room}/users/${someone}` },
    { method: 'POST', path: `/api/rooms/${room}/messages`, json: { body: 'let me in' } },
    { method: 'GET', path: `/api/rooms/${room}/messages` },
  ];
}

function adminRoutes(
  room: string,
  someone: string,
): { method: string; path: string; json?: unknown }[] {
  return [
    { method: 'GET', path: '/api/admin/rooms?domain=localhost' },
    { method: 'POST', path: '/api/admin/rooms', json: { owner: someone, name: 'x' } },
    { method: 'GET', path: `/api/admin/rooms/${room}` },
    { method: 'DELETE', path: `/api/admin/rooms/${room}` },
    { method: 'PUT', path: `/api/admin/rooms/${room}/config`, json: { name: 'x' } },
    { method: 'POST', path: `/api/admin/rooms/${room}/users`, json: { user: someone } },
    { method: 'DELETE', path: `/api/admin/rooms/${room}/users/${someone}` },
    {
      method: 'POST',
      path: `/api/admin/rooms/${room}/messages`,
      json: { from: someone, body: 'x' },
    },
    { method: 'GET', path: `/api/admin/rooms/${room}/messages` },
  ];
}

/** What a problem says apart from where and when it was asked. */
function gist(problem: Problem, room: string): unknown {
  return {
    type: problem.type,
    title: problem.title,
    status: problem.status,
    detail: problem.detail?.replaceAll(room, '{room}'),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);

  return sorted[Math.floor(sorted.length / 2)]!;
}

describe.skipIf(!servicesUp())('rooms refuse what is not the caller’s', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let room: string;
  const missing = 'no-such-room';

  beforeAll(async () => {
    server = await startTestServer({
      ROOMS_MAX_PER_USER: '3',
      ROOM_MAX_MEMBERS: '3',
      MESSAGE_MAX_BYTES: '1000',
    });
    [alice, bob, mallory] = (await Promise.all(
      ['alice', 'bob', 'mallory'].map((name) => registerUser(server.url, server.domain, name)),
    )) as [TestUser, TestUser, TestUser];
    room = await createRoom(server.url, alice.basic, { name: 'Private', subject: 'secret' });
    await addMember(server.url, alice.basic, room, bob.jid);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('answers every room route without credentials with 401, whether the room exists or not', async () => {
    const routes = [
      { method: 'GET', path: '/api/rooms' },
      { method: 'POST', path: '/api/rooms', json: { name: 'x' } },
      { method: 'PUT', path: '/api/rooms/fresh-id', json: { name: 'x' } },
      ...roomRoutes(room, bob.jid),
      ...roomRoutes(missing, bob.jid),
    ];
    for (const route of routes) {
      const result = await http<Problem>(server.url, route.method, route.path, {
        ...(route.json === undefined ? {} : { json: route.json }),
      });
      expect([route.method, route.path, result.status]).toEqual([route.method, route.path, 401]);
      expect(result.body.type).toBe('/problems/unauthorized');
    }
  });

  it('gives a non-member the same 404 for a room that exists as for one that does not, and changes nothing', async () => {
    const before = {
      details: await roomDetails(server.url, alice.basic, room),
      archive: await roomArchive(server.url, alice.basic, room),
    };
    const existing = roomRoutes(room, alice.jid);
    const absent = roomRoutes(missing, alice.jid);

    for (const [index, route] of existing.entries()) {
      const there = await http<Problem>(server.url, route.method, route.path, {
        auth: mallory.basic,
        ...(route.json === undefined ? {} : { json: route.json }),
      });
      const other = absent[index]!;
      const notThere = await http<Problem>(server.url, other.method, other.path, {
        auth: mallory.basic,
        ...(other.json === undefined ? {} : { json: other.json }),
      });

      expect([route.method, route.path, there.status]).toEqual([route.method, route.path, 404]);
      expect(there.body.type).toBe('/problems/room-not-found');
      expect(gist(there.body, room)).toEqual(gist(notThere.body, missing));
      expect(there.headers.get('content-type')).toBe(notThere.headers.get('content-type'));
    }
    expect(await roomDetails(server.url, alice.basic, room)).toEqual(before.details);
    expect(await roomArchive(server.url, alice.basic, room)).toEqual(before.archive);
    const mallorysRooms = await http(server.url, 'GET', '/api/rooms', { auth: mallory.basic });
    expect(mallorysRooms.body).toEqual([]);
  });

  it('takes as long to refuse a non-member for a room that exists as for one that does not', async () => {
    const timings = { there: [] as number[], notThere: [] as number[] };
    const probe = async (id: string) => {
      const started = performance.now();
      const result = await http(server.url, 'GET', `/api/rooms/${id}/messages`, {
        auth: mallory.basic,
      });
      expect(result.status).toBe(404);

      return performance.now() - started;
    };
    // Interleaved, alternating which goes first, so load on the machine falls on both alike; the first rounds warm caches.
    for (let round = 0; round < 65; round += 1) {
      let there: number;
      let notThere: number;
      if (round % 2 === 0) {
        there = await probe(room);
        notThere = await probe(missing);
      } else {
        notThere = await probe(missing);
        there = await probe(room);
      }
      if (round >= 5) {
        timings.there.push(there);
        timings.notThere.push(notThere);
      }
    }

    const difference = Math.abs(median(timings.there) - median(timings.notThere));
    // One probe of the membership key either way; a password check or a few more queries would show.
    expect(difference).toBeLessThan(Math.max(1.5, median(timings.notThere) * 0.35));
  });

  it('refuses a member what their role does not allow with 403, and lets them read and leave', async () => {
    const forbidden = [
      { method: 'DELETE', path: `/api/rooms/${room}` },
      { method: 'PUT', path: `/api/rooms/${room}/config`, json: { subject: 'mine' } },
      {
        method: 'PUT',
        path: `/api/rooms/${room}/config`,
        json: { settings: { remove: 'members' } },
      },
      { method: 'POST', path: `/api/rooms/${room}/users`, json: { user: mallory.jid } },
      { method: 'DELETE', path: `/api/rooms/${room}/users/${alice.jid}` },
    ];
    for (const route of forbidden) {
      const result = await http<Problem>(server.url, route.method, route.path, {
        auth: bob.basic,
        ...(route.json === undefined ? {} : { json: route.json }),
      });
      expect([route.method, route.path, result.status]).toEqual([route.method, route.path, 403]);
      expect(result.body.type).toBe('/problems/room-forbidden');
    }
    const details = await roomDetails(server.url, bob.basic, room);
    expect(details).toMatchObject({ name: 'Private', subject: 'secret' });
    expect(details.participants.map((participant) => participant.user)).toEqual([
      alice.jid,
      bob.jid,
    ]);
  });

  it('lets a user take a free id with PUT but tells them when it is taken (409, as documented)', async () => {
    const taken = await http<Problem>(server.url, 'PUT', `/api/rooms/${room}`, {
      auth: mallory.basic,
      json: { name: 'Mine' },
    });

    expect(taken.status).toBe(409);
    expect(taken.body.type).toBe('/problems/room-exists');
    expect((await roomDetails(server.url, alice.basic, room)).name).toBe('Private');
  });

  it('keeps every admin room route shut without admin credentials, and to user credentials', async () => {
    const routes = adminRoutes(room, bob.jid);
    for (const route of routes) {
      const result = await http<Problem>(server.url, route.method, route.path, {
        ...(route.json === undefined ? {} : { json: route.json }),
      });
      expect([route.method, route.path, result.status]).toEqual([route.method, route.path, 401]);
    }
    // One guard on the whole controller; each wrong login is throttled, so two routes show it.
    for (const route of [routes[0]!, routes[5]!]) {
      const result = await http<Problem>(server.url, route.method, route.path, {
        auth: alice.basic,
        ...(route.json === undefined ? {} : { json: route.json }),
      });
      expect([route.method, route.path, result.status]).toEqual([route.method, route.path, 401]);
      expect(result.body.type).toBe('/problems/invalid-credentials');
    }
    expect((await roomDetails(server.url, alice.basic, room)).participants).toHaveLength(2);
  });

  it('refuses bad input with a problem naming the field, and stores nothing', async () => {
    const before = await roomArchive(server.url, alice.basic, room);
    const roomsBefore = await http(server.url, 'GET', '/api/rooms', { auth: alice.basic });
    const cases: {
      method: string;
      path: string;
      json?: unknown;
      raw?: string;
      status: number;
      field?: string;
    }[] = [
      { method: 'POST', path: '/api/rooms', json: {}, status: 400, field: 'name' },
      { method: 'POST', path: '/api/rooms', json: { name: '' }, status: 400, field: 'name' },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'x'.repeat(257) },
        status: 400,
        field: 'name',
      },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'bell\u0007' },
        status: 400,
        field: 'name',
      },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'x', owner: 'me' },
        status: 400,
        field: 'owner',
      },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'x', subject: 7 },
        status: 400,
        field: 'subject',
      },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'x', settings: { invite: 'anyone' } },
        status: 400,
        field: 'settings.invite',
      },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'x', settings: { kick: 'owners' } },
        status: 400,
        field: 'settings.kick',
      },
      {
        method: 'POST',
        path: '/api/rooms',
        json: { name: 'x', settings: 'open' },
        status: 400,
        field: 'settings',
      },
      {
        method: 'PUT',
        path: '/api/rooms/-starts-with-dash',
        json: { name: 'x' },
        status: 400,
        field: 'id',
      },
      {
        method: 'PUT',
        path: `/api/rooms/${'a'.repeat(65)}`,
        json: { name: 'x' },
        status: 400,
        field: 'id',
      },
      { method: 'PUT', path: `/api/rooms/${room}/config`, json: {}, status: 400 },
      {
        method: 'POST',
        path: `/api/rooms/${room}/messages`,
        json: { body: '' },
        status: 400,
        field: 'body',
      },
      {
        method: 'POST',
        path: `/api/rooms/${room}/messages`,
        json: { body: 'x', to: 'y' },
        status: 400,
        field: 'to',
      },
      {
        method: 'POST',
        path: `/api/rooms/${room}/messages`,
        json: { body: 'é'.repeat(501) },
        status: 413,
        field: 'body',
      },
      { method: 'POST', path: `/api/rooms/${room}/messages`, raw: '{"body": "x"', status: 400 },
      {
        method: 'POST',
        path: `/api/rooms/${room}/users`,
        json: { user: 'alice' },
        status: 400,
        field: 'user',
      },
      {
        method: 'GET',
        path: `/api/rooms/${room}/messages?after_id=nope`,
        status: 400,
        field: 'after_id',
      },
      { method: 'GET', path: `/api/rooms/${room}/messages?limit=501`, status: 400, field: 'limit' },
    ];
    for (const entry of cases) {
      const result = await http<Problem & { errors?: { name: string }[] }>(
        server.url,
        entry.method,
        entry.path,
        {
          auth: alice.basic,
          ...(entry.json === undefined ? {} : { json: entry.json }),
          ...(entry.raw === undefined ? {} : { raw: entry.raw }),
        },
      );
      expect([entry.method, entry.path, result.status]).toEqual([
        entry.method,
        entry.path,
        entry.status,
      ]);
      expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      if (entry.field !== undefined) {
        expect(result.body.errors?.map((error) => error.name)).toContain(entry.field);
      }
    }
    expect(await roomArchive(server.url, alice.basic, room)).toEqual(before);
    expect((await http(server.url, 'GET', '/api/rooms', { auth: alice.basic })).body).toEqual(
      roomsBefore.body,
    );
  });

  it('refuses a member past ROOM_MAX_MEMBERS and a room past ROOMS_MAX_PER_USER with clear problems', async () => {
    const [carol, dave] = (await Promise.all(
      ['carol', 'dave'].map((name) => registerUser(server.url, server.domain, name)),
    )) as [TestUser, TestUser];
    // `room` has alice and bob; a third fills it.
    await addMember(server.url, alice.basic, room, carol.jid);
    const full = await http<Problem>(server.url, 'POST', `/api/rooms/${room}/users`, {
      auth: alice.basic,
      json: { user: dave.jid },
    });
    expect(full.status).toBe(409);
    expect(full.body.type).toBe('/problems/room-full');
    expect(full.body.detail).toMatch(/ROOM_MAX_MEMBERS/);
    expect((await roomDetails(server.url, alice.basic, room)).participants).toHaveLength(3);

    // Carol is in one room; two more reach her limit of three.
    await createRoom(server.url, carol.basic, { name: 'c1' });
    await createRoom(server.url, carol.basic, { name: 'c2' });
    const fourth = await http<Problem>(server.url, 'POST', '/api/rooms', {
      auth: carol.basic,
      json: { name: 'c3' },
    });
    expect(fourth.status).toBe(409);
    expect(fourth.body.type).toBe('/problems/room-limit-reached');
    expect(fourth.body.detail).toMatch(/ROOMS_MAX_PER_USER/);
    const daveRoom = await createRoom(server.url, dave.basic, { name: 'Dave’s' });
    const invited = await http<Problem>(server.url, 'POST', `/api/rooms/${daveRoom}/users`, {
      auth: dave.basic,
      json: { user: carol.jid },
    });
    expect(invited.status).toBe(409);
    expect(invited.body.type).toBe('/problems/room-limit-reached');
    const carolsRooms = await http<unknown[]>(server.url, 'GET', '/api/rooms', {
      auth: carol.basic,
    });
    expect(carolsRooms.body).toHaveLength(3);
    expect((await roomDetails(server.url, dave.basic, daveRoom)).participants).toHaveLength(1);
  });

  it('holds the member limit when many adds race', async () => {
    const owner = await registerUser(server.url, server.domain, 'racer');
    const racers = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => registerUser(server.url, server.domain, `racer${n}`)),
    );
    const raced = await createRoom(server.url, owner.basic, { name: 'Race' });

    const results = await Promise.all(
      racers.map((racer) =>
        http(server.url, 'POST', `/api/admin/rooms/${raced}/users`, {
          auth: ADMIN_AUTH,
          json: { user: racer.jid },
        }),
      ),
    );

    expect(results.filter((result) => result.status === 204)).toHaveLength(2);
    expect(results.filter((result) => result.status === 409)).toHaveLength(3);
    expect((await roomDetails(server.url, owner.basic, raced)).participants).toHaveLength(3);
  });
});
