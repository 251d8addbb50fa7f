import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { InboxChangeView, InboxEntryView } from '#src/inbox/inbox-view.js';
import type { MarkerView, ReactionChangeView } from '#src/messaging/message-view.js';
import {
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { addMember, createRoom, type RoomEntry } from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

describe.skipIf(!servicesUp())(
  'rooms in the inbox, with markers, edits, retractions and reactions',
  () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let dave: TestUser;
    let room: string;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      server = await startTestServer();
      alice = await registerUser(server.url, server.domain, 'alice');
      bob = await registerUser(server.url, server.domain, 'bob');
      carol = await registerUser(server.url, server.domain, 'carol');
      dave = await registerUser(server.url, server.domain, 'dave');
      room = await createRoom(server.url, alice.basic, { name: 'Team' });
      await addMember(server.url, alice.basic, room, bob.jid);
      await addMember(server.url, alice.basic, room, carol.jid);
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

    const post = (user: TestUser, json: unknown) =>
      http<{ id: string }>(server.url, 'POST', `/api/rooms/${room}/messages`, {
        auth: user.basic,
        json,
      });
    const entryOf = async (user: TestUser) =>
      (
        await http<InboxEntryView[]>(server.url, 'GET', '/api/inbox?type=room', {
          auth: user.basic,
        })
      ).body.find((entry) => entry.id === room);
    const archive = async (user: TestUser, query = '') =>
      (
        await http<RoomEntry[]>(server.url, 'GET', `/api/rooms/${room}/messages${query}`, {
          auth: user.basic,
        })
      ).body;

    it('counts room messages as unread for the other members, in the send’s transaction, and pushes it', async () => {
      const bobSocket = await socketOf(bob);
      const pushes = new EventRecorder<InboxChangeView>(bobSocket, 'inbox');
      const first = await post(alice, { body: 'first' });
      const second = await post(alice, { body: 'second' });
      expect(first.status).toBe(200);

      expect(await entryOf(bob)).toMatchObject({
        type: 'room',
        id: room,
        unread: 2,
        last_message: { id: second.body.id, from: alice.jid, body: 'second' },
      });
      expect((await entryOf(alice))!.unread).toBe(0);
      expect((await pushes.waitFor(2)).map((push) => [push.type, push.id, push.unread])).toEqual([
        ['room', room, 1],
        ['room', room, 2],
      ]);
      const badge = await http<{ unread: number }>(server.url, 'GET', '/api/inbox/unread', {
        auth: carol.basic,
      });
      expect(badge.body.unread).toBe(2);
    });

    it('takes a marker in the room send, tells the members, and recounts the reader’s unread', async () => {
      const aliceSocket = await socketOf(alice);
      const markers = new EventRecorder<MarkerView>(aliceSocket, 'marker');
      const [first, second] = (await archive(bob))
        .filter((entry) => entry.kind === 'message')
        .slice(-2);

      const marked = await post(bob, { marker: { type: 'displayed', id: first!.id } });
      expect(marked.status).toBe(200);
      expect(marked.body.id).toBe(first!.id);
      expect((await entryOf(bob))!.unread).toBe(1);
      expect((await markers.waitFor(1))[0]).toEqual({
        conversation: { type: 'room', id: room },
        by: bob.jid,
        type: 'displayed',
        message_id: first!.id,
      });

      // A message and a marker together: the answer names the new message.
      const both = await post(bob, {
        body: 'read it',
        marker: { type: 'displayed', id: second!.id },
      });
      expect(both.body.id).not.toBe(second!.id);
      expect((await entryOf(bob))!.unread).toBe(0);
      expect((await entryOf(alice))!.unread).toBe(1);

      const ofFirst = await http(server.url, 'GET', `/api/messages/${first!.id}/markers`, {
        auth: alice.basic,
      });
      expect(ofFirst.body).toEqual({ received: [bob.jid], displayed: [bob.jid], acknowledged: [] });
      const all = await http<{ jid: string; displayed: string | null }[]>(
        server.url,
        'GET',
        `/api/inbox/room/${room}/markers`,
        { auth: carol.basic },
      );
      expect(all.status).toBe(200);
      expect(all.body.map((row) => [row.jid, row.displayed])).toEqual([
        [alice.jid, null],
        [bob.jid, second!.id],
        [carol.jid, null],
      ]);

      // An outsider sees nothing, whether through the room or the message id.
      expect((await post(dave, { marker: { type: 'displayed', id: first!.id } })).status).toBe(404);
      expect(
        (
          await http(server.url, 'POST', `/api/messages/${first!.id}/markers`, {
            auth: dave.basic,
            json: { type: 'received' },
          })
        ).status,
      ).toBe(404);
      expect(
        (await http(server.url, 'GET', `/api/inbox/room/${room}/markers`, { auth: dave.basic }))
          .status,
      ).toBe(404);
      expect((await post(bob, {})).status).toBe(400);
      expect((await post(bob, { marker: { type: 'seen', id: first!.id } })).status).toBe(400);
    });

    it('lets the author edit and retract a room message, any member react, and nobody else', async () => {
      const carolSocket = await socketOf(carol);
      const edits = new EventRecorder<RoomEntry>(carolSocket, 'room:message:edited');
      const retractions = new EventRecorder<{ id: string }>(carolSocket, 'room:message:retracted');
      const reactions = new EventRecorder<ReactionChangeView>(carolSocket, 'message:reaction');
      const { body: sent } = await post(alice, { body: 'meeting at 10' });

      const edited = await http<RoomEntry>(server.url, 'PUT', `/api/messages/${sent.id}`, {
        auth: alice.basic,
        json: { body: 'meeting at 11' },
      });
      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({ id: sent.id, room, body: 'meeting at 11', revision: 1 });
      expect((await edits.waitFor(1))[0]).toMatchObject({ id: sent.id, body: 'meeting at 11' });
      expect((await entryOf(carol))!.last_message.body).toBe('meeting at 11');
      for (const [user, status] of [
        [bob, 403],
        [dave, 404],
      ] as const) {
        expect(
          (
            await http(server.url, 'PUT', `/api/messages/${sent.id}`, {
              auth: user.basic,
              json: { body: 'x' },
            })
          ).status,
        ).toBe(status);
        expect(
          (await http(server.url, 'DELETE', `/api/messages/${sent.id}`, { auth: user.basic }))
            .status,
        ).toBe(status);
      }

      const party = encodeURIComponent('🎉');
      expect(
        (
          await http(server.url, 'PUT', `/api/messages/${sent.id}/reactions/${party}`, {
            auth: bob.basic,
          })
        ).status,
      ).toBe(204);
      expect(
        (
          await http(server.url, 'PUT', `/api/messages/${sent.id}/reactions/${party}`, {
            auth: dave.basic,
          })
        ).status,
      ).toBe(404);
      expect((await reactions.waitFor(1))[0]).toMatchObject({
        id: sent.id,
        conversation: { type: 'room', id: room },
        by: bob.jid,
        emoji: '🎉',
        added: true,
      });
      const seenByAlice = (await archive(alice)).find((entry) => entry.id === sent.id)!;
      expect(seenByAlice.reactions).toEqual([{ emoji: '🎉', count: 1, mine: false }]);

      expect(
        (await http(server.url, 'DELETE', `/api/messages/${sent.id}`, { auth: alice.basic }))
          .status,
      ).toBe(204);
      expect((await retractions.waitFor(1))[0]).toMatchObject({
        id: sent.id,
        room,
        from: alice.jid,
      });
      const retracted = (await archive(bob)).find((entry) => entry.id === sent.id)!;
      expect(retracted).toMatchObject({ body: '' });
      expect(retracted.retracted_at).toBeGreaterThan(0);
      expect(retracted.reactions).toBeUndefined();
    });

    it('threads room replies and filters the room archive by thread', async () => {
      const { body: root } = await post(alice, { body: 'lunch?' });
      const reply = await post(bob, { body: 'yes', reply_to: root.id });
      expect(reply.status).toBe(200);
      await post(carol, { body: 'unrelated' });
      const thread = await archive(alice, `?thread=${root.id}`);
      expect(thread.map((entry) => [entry.body, entry.reply_to, entry.thread])).toEqual([
        ['yes', root.id, root.id],
      ]);
      expect(
        (await post(bob, { body: 'x', reply_to: '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b' })).status,
      ).toBe(404);
    });

    it('drops a member’s inbox entry and markers when they leave', async () => {
      expect(await entryOf(carol)).toBeDefined();
      expect(
        (
          await http(server.url, 'DELETE', `/api/rooms/${room}/users/${carol.jid}`, {
            auth: carol.basic,
          })
        ).status,
      ).toBe(204);
      expect(await entryOf(carol)).toBeUndefined();
      const all = await http<{ jid: string }[]>(
        server.url,
        'GET',
        `/api/inbox/room/${room}/markers`,
        {
          auth: alice.basic,
        },
      );
      expect(all.body.map((row) => row.jid)).toEqual([alice.jid, bob.jid]);
    });
  },
);
