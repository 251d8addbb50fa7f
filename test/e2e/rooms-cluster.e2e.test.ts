import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import {
  addMembersAsAdmin,
  createRoom,
  roomDetails,
  sendToRoom,
  type RoomEntry,
} from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';

const MEMBERS = 50;

interface Listener {
  readonly user: TestUser;
  readonly node: 'a' | 'b';
  readonly socket: Socket;
  readonly messages: EventRecorder<RoomEntry>;
  readonly membership: EventRecorder<RoomEntry>;
}

/** Runs `work` over `items`, `limit` at a time. */
async function inBatches<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += limit) {
    results.push(...(await Promise.all(items.slice(start, start + limit).map(work))));
  }

  return results;
}

describe.skipIf(!servicesUp())('a room of 50 members spread over two nodes', () => {
  const domain = uniqueDomain();
  const shared = { REDIS_KEY_PREFIX: `test:rooms-cluster:${domain}:` };
  let nodeA: TestServer;
  let nodeB: TestServer;
  let users: TestUser[];
  let listeners: Listener[];
  let room: string;

  const base = (node: 'a' | 'b') => (node === 'a' ? nodeA.url : nodeB.url);

  beforeAll(async () => {
    nodeA = await startTestServer({ ...shared, NODE_ID: 'rooms-a' }, { domain });
    nodeB = await startTestServer({ ...shared, NODE_ID: 'rooms-b' }, { domain });
    users = await inBatches(
      Array.from({ length: MEMBERS }, (_, index) => index),
      10,
      (index) => registerUser(index % 2 === 0 ? nodeA.url : nodeB.url, domain, `member${index}`),
    );
    room = await createRoom(nodeA.url, users[0]!.basic, { name: 'Everyone' });
    // Added through node B, so membership written on one node serves the other.
    await addMembersAsAdmin(
      nodeB.url,
      room,
      users.slice(1).map((user) => user.jid),
    );
    // Even members on node A, odd on node B; the first five also have a second device on the other node.
    const placements = users.flatMap((user, index): { user: TestUser; node: 'a' | 'b' }[] => {
      const home = index % 2 === 0 ? 'a' : 'b';
      const away = home === 'a' ? 'b' : 'a';

      return index < 5
        ? [
            { user, node: home },
            { user, node: away },
          ]
        : [{ user, node: home }];
    });
    listeners = await inBatches(placements, 10, async ({ user, node }) => {
      const socket = await connectSocket(base(node), { token: await tokenFor(base(node), user) });

      return {
        user,
        node,
        socket,
        messages: new EventRecorder<RoomEntry>(socket, 'room:message'),
        membership: new EventRecorder<RoomEntry>(socket, 'room:member'),
      };
    });
  }, 120_000);

  afterAll(async () => {
    listeners?.forEach((listener) => listener.socket.disconnect());
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  });

  async function everyoneReceives(listenersNow: Listener[], count: number): Promise<void> {
    await Promise.all(listenersNow.map((listener) => listener.messages.waitFor(count, 8000)));
  }

  it('has all 50 members in the room', async () => {
    const details = await roomDetails(nodeB.url, users[1]!.basic, room);

    expect(details.participants).toHaveLength(MEMBERS);
    expect(details.participants.filter((p) => p.role === 'owner').map((p) => p.user)).toEqual([
      users[0]!.jid,
    ]);
  });

  it('delivers one message sent on node A exactly once to every socket on both nodes', async () => {
    const sent = await sendToRoom(nodeA.url, users[0]!.basic, room, 'first, from A', 'a-1');
    expect(sent.status).toBe(200);
    // A second message through the other node doubles as a barrier: once it is everywhere, no late copy of the first is in flight.
    const second = await sendToRoom(nodeB.url, users[1]!.basic, room, 'second, from B');

    await everyoneReceives(listeners, 2);
    expect(listeners.filter((listener) => listener.node === 'a').length).toBeGreaterThan(20);
    expect(listeners.filter((listener) => listener.node === 'b').length).toBeGreaterThan(20);
    for (const listener of listeners) {
      const ids = listener.messages.events.map((event) => event.id);
      expect([listener.user.jid, listener.node, ids]).toEqual([
        listener.user.jid,
        listener.node,
        [sent.body.id, second.body.id],
      ]);
      const first = listener.messages.events[0]!;
      expect(first).toMatchObject({
        room,
        kind: 'message',
        from: users[0]!.jid,
        body: 'first, from A',
      });
      // The idempotency key goes to the sender's own sessions only.
      expect(first.client_id).toBe(listener.user === users[0] ? 'a-1' : undefined);
    }
  });

  it('tells every member on both nodes that someone left, and stops sending to them', async () => {
    const leaver = users[3]!;
    const left = await http(nodeB.url, 'DELETE', `/api/rooms/${room}/users/${leaver.jid}`, {
      auth: leaver.basic,
    });
    expect(left.status).toBe(204);

    await Promise.all(listeners.map((listener) => listener.membership.waitFor(1, 8000)));
    for (const listener of listeners) {
      expect(listener.membership.events[0]).toMatchObject({
        kind: 'member_left',
        member: leaver.jid,
        reason: 'left',
      });
    }
    const stayed = listeners.filter((listener) => listener.user !== leaver);
    const before = new Map(
      listeners.map((listener) => [listener, listener.messages.events.length]),
    );
    const after = await sendToRoom(nodeB.url, users[2]!.basic, room, 'without member3');

    await Promise.all(
      stayed.map((listener) => listener.messages.waitFor(before.get(listener)! + 1, 8000)),
    );
    for (const listener of stayed) {
      expect(listener.messages.events.at(-1)!.id).toBe(after.body.id);
    }
    // A barrier through node A: once it is everywhere, the leaver's sockets would have had the last message too.
    const barrier = await sendToRoom(nodeA.url, users[0]!.basic, room, 'barrier');
    await Promise.all(
      stayed.map((listener) => listener.messages.waitFor(before.get(listener)! + 2, 8000)),
    );
    for (const listener of listeners.filter((entry) => entry.user === leaver)) {
      expect(listener.messages.events.map((event) => event.id)).not.toContain(after.body.id);
      expect(listener.messages.events.map((event) => event.id)).not.toContain(barrier.body.id);
    }
  });
});
