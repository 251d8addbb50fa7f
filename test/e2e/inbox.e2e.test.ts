import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { InboxChangeView, InboxEntryView } from '#src/inbox/inbox-view.js';
import type { MarkerView, MessageView, ReactionChangeView } from '#src/messaging/message-view.js';
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

describe.skipIf(!servicesUp())('inbox, markers and message operations', () => {
  let server: TestServer;
  const sockets: Socket[] = [];
  let serial = 0;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await server?.stop();
  });

  /** Fresh users per test, so counts start at zero. */
  async function users<const N extends readonly string[]>(
    ...names: N
  ): Promise<{ [K in keyof N]: TestUser }> {
    serial += 1;

    const registered = await Promise.all(
      names.map((name) => registerUser(server.url, server.domain, `${name}${serial}`)),
    );

    return registered as { [K in keyof N]: TestUser };
  }

  async function socketOf(user: TestUser): Promise<Socket> {
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, user) });
    sockets.push(socket);

    return socket;
  }

  const get = <T>(user: TestUser, path: string) =>
    http<T>(server.url, 'GET', path, { auth: user.basic });
  const send = async (from: TestUser, to: TestUser, body: string) => {
    const result = await sendMessage(server.url, from.basic, to.jid, body);
    expect(result.status).toBe(200);

    return result.body.id;
  };
  const inboxOf = async (user: TestUser, query = '') =>
    (await get<InboxEntryView[]>(user, `/api/inbox${query}`)).body;
  const unreadOf = async (user: TestUser) =>
    (
      await get<{ unread: number; conversations: number; muted_unread: number }>(
        user,
        '/api/inbox/unread',
      )
    ).body;

  it('counts unread through sends, a displayed marker and a reset, and pushes each change', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const bobSocket = await socketOf(bob);
    const pushes = new EventRecorder<InboxChangeView>(bobSocket, 'inbox');

    const ids = [];
    for (const body of ['one', 'two', 'three']) {
      ids.push(await send(alice, bob, body));
    }

    const [entry] = await inboxOf(bob);
    expect(entry).toMatchObject({
      type: 'chat',
      id: alice.jid,
      unread: 3,
      last_message: { id: ids[2], from: alice.jid, body: 'three' },
      archived: false,
      pinned: false,
      muted_until: null,
    });
    expect((await inboxOf(alice))[0]).toMatchObject({ id: bob.jid, unread: 0 });
    expect(await unreadOf(bob)).toEqual({ unread: 3, conversations: 1, muted_unread: 0 });
    const live = await pushes.waitFor(3);
    expect(live.map((push) => push.unread)).toEqual([1, 2, 3]);
    expect(live[2]).toMatchObject({ type: 'chat', id: alice.jid, last_message_id: ids[2] });

    // Displayed up to the second: one left.
    expect(
      (
        await http(server.url, 'POST', `/api/messages/${ids[1]}/markers`, {
          auth: bob.basic,
          json: { type: 'displayed' },
        })
      ).status,
    ).toBe(204);
    expect((await inboxOf(bob))[0]!.unread).toBe(1);
    expect((await pushes.waitFor(4))[3]).toMatchObject({ id: alice.jid, unread: 1 });

    // An older marker changes nothing.
    await http(server.url, 'POST', `/api/messages/${ids[0]}/markers`, {
      auth: bob.basic,
      json: { type: 'displayed' },
    });
    expect((await inboxOf(bob))[0]!.unread).toBe(1);

    const reset = await http<InboxEntryView>(
      server.url,
      'POST',
      `/api/inbox/chat/${alice.jid}/reset`,
      {
        auth: bob.basic,
      },
    );
    expect(reset.status).toBe(200);
    expect(reset.body.unread).toBe(0);
    expect(await unreadOf(bob)).toEqual({ unread: 0, conversations: 0, muted_unread: 0 });
    expect((await inboxOf(bob, '?unread=true')).length).toBe(0);
  });

  it('orders by last activity, pages with a cursor, filters, and honours mute, archive and pin', async () => {
    const [owner, ...peers] = await users('owner', 'p1', 'p2', 'p3');
    for (const peer of peers) {
      await send(peer, owner, `hi from ${peer.jid}`);
    }
    await send(owner, peers[0], 'back to p1');

    const all = await inboxOf(owner);
    expect(all.map((entry) => entry.id)).toEqual([peers[0].jid, peers[2].jid, peers[1].jid]);
    const first = await inboxOf(owner, '?limit=2');
    const rest = await inboxOf(owner, `?limit=2&before_id=${first[1]!.last_message.id}`);
    expect([...first, ...rest].map((entry) => entry.id)).toEqual(all.map((entry) => entry.id));
    expect((await inboxOf(owner, '?type=room')).length).toBe(0);

    const muted = await http<InboxEntryView>(server.url, 'PUT', `/api/inbox/chat/${peers[1].jid}`, {
      auth: owner.basic,
      json: { muted_until: Date.now() + 3_600_000, pinned: true },
    });
    expect(muted.status).toBe(200);
    expect(muted.body).toMatchObject({ pinned: true, unread: 1 });
    expect(await unreadOf(owner)).toEqual({ unread: 2, conversations: 2, muted_unread: 1 });

    await http(server.url, 'PUT', `/api/inbox/chat/${peers[2].jid}`, {
      auth: owner.basic,
      json: { archived: true },
    });
    expect((await inboxOf(owner)).map((entry) => entry.id)).not.toContain(peers[2].jid);
    expect((await inboxOf(owner, '?archived=true')).map((entry) => entry.id)).toEqual([
      peers[2].jid,
    ]);
    // A new message brings an archived conversation back.
    await send(peers[2], owner, 'are you there?');
    expect((await inboxOf(owner))[0]).toMatchObject({
      id: peers[2].jid,
      archived: false,
      unread: 2,
    });

    for (const [path, json] of [
      [`/api/inbox/chat/${peers[0].jid}`, { archived: 'yes' }],
      [`/api/inbox/chat/${peers[0].jid}`, { muted_until: -5 }],
      [`/api/inbox/group/${peers[0].jid}`, { pinned: true }],
    ] as const) {
      expect((await http(server.url, 'PUT', path, { auth: owner.basic, json })).status).toBe(400);
    }
    expect((await get(owner, '/api/inbox?unread=maybe')).status).toBe(400);
    const stranger = (await users('stranger'))[0];
    const missing = await http(server.url, 'PUT', `/api/inbox/chat/${stranger.jid}`, {
      auth: owner.basic,
      json: { pinned: true },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('stores markers, tells the sender’s sessions, and reads them per message and per conversation', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const aliceSocket = await socketOf(alice);
    const markers = new EventRecorder<MarkerView>(aliceSocket, 'marker');
    const first = await send(alice, bob, 'first');
    const second = await send(alice, bob, 'second');

    const bobSocket = await socketOf(bob);
    const ack = await bobSocket.emitWithAck('marker:send', { id: first, type: 'displayed' });
    expect(ack).toEqual({ ok: true });
    await http(server.url, 'POST', `/api/messages/${second}/markers`, {
      auth: bob.basic,
      json: { type: 'received' },
    });

    const live = await markers.waitFor(2);
    expect(live).toEqual([
      {
        conversation: { type: 'chat', id: bob.jid },
        by: bob.jid,
        type: 'displayed',
        message_id: first,
      },
      {
        conversation: { type: 'chat', id: bob.jid },
        by: bob.jid,
        type: 'received',
        message_id: second,
      },
    ]);

    const ofFirst = await get(alice, `/api/messages/${first}/markers`);
    expect(ofFirst.body).toEqual({ received: [bob.jid], displayed: [bob.jid], acknowledged: [] });
    const ofSecond = await get(alice, `/api/messages/${second}/markers`);
    expect(ofSecond.body).toEqual({ received: [bob.jid], displayed: [], acknowledged: [] });
    const conversation = await get(alice, `/api/inbox/chat/${bob.jid}/markers`);
    expect(conversation.body).toEqual([
      { jid: alice.jid, received: null, displayed: null, acknowledged: null },
      { jid: bob.jid, received: second, displayed: first, acknowledged: null },
    ]);

    const [carol] = await users('carol');
    expect((await get(carol, `/api/messages/${first}/markers`)).status).toBe(404);
    expect(
      (
        await http(server.url, 'POST', `/api/messages/${first}/markers`, {
          auth: carol.basic,
          json: { type: 'displayed' },
        })
      ).status,
    ).toBe(404);
    expect((await get(carol, `/api/inbox/chat/${bob.jid}/markers`)).status).toBe(404);
    expect(
      (
        await http(server.url, 'POST', `/api/messages/${first}/markers`, {
          auth: bob.basic,
          json: { type: 'read' },
        })
      ).status,
    ).toBe(400);
    const badAck = (await bobSocket.emitWithAck('marker:send', {
      id: 'nope',
      type: 'displayed',
    })) as {
      error?: { status: number };
    };
    expect(badAck.error?.status).toBe(400);
  });

  it('lets only the author edit and retract, lets both participants react, and refuses outsiders', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const bobSocket = await socketOf(bob);
    const edits = new EventRecorder<MessageView>(bobSocket, 'message:edited');
    const retractions = new EventRecorder<{ id: string }>(bobSocket, 'message:retracted');
    const reactions = new EventRecorder<ReactionChangeView>(bobSocket, 'message:reaction');
    const id = await send(alice, bob, 'helo');

    const edited = await http<MessageView>(server.url, 'PUT', `/api/messages/${id}`, {
      auth: alice.basic,
      json: { body: 'hello' },
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ id, body: 'hello', revision: 1, direction: 'out' });
    expect((await edits.waitFor(1))[0]).toMatchObject({
      id,
      body: 'hello',
      direction: 'in',
      revision: 1,
    });
    const bobView = (await get<MessageView[]>(bob, `/api/messages/${alice.jid}`)).body.at(-1)!;
    expect(bobView).toMatchObject({ id, body: 'hello', revision: 1 });
    expect(bobView.edited_at).toBeGreaterThan(0);
    // Both sides' inbox entries show the new text.
    expect((await inboxOf(bob))[0]!.last_message.body).toBe('hello');
    expect((await inboxOf(alice))[0]!.last_message.body).toBe('hello');

    // The recipient is not the author; an outsider cannot see the message at all.
    const notAuthor = await http(server.url, 'PUT', `/api/messages/${id}`, {
      auth: bob.basic,
      json: { body: 'hijacked' },
    });
    expect(notAuthor.status).toBe(403);
    expect(
      (await http(server.url, 'DELETE', `/api/messages/${id}`, { auth: bob.basic })).status,
    ).toBe(403);
    for (const [method, path, json] of [
      ['PUT', `/api/messages/${id}`, { body: 'hijacked' }],
      ['DELETE', `/api/messages/${id}`, undefined],
      ['PUT', `/api/messages/${id}/reactions/${encodeURIComponent('👍')}`, undefined],
      ['DELETE', `/api/messages/${id}/reactions/${encodeURIComponent('👍')}`, undefined],
    ] as const) {
      const outsider = await http(server.url, method, path, { auth: carol.basic, json });
      expect(outsider.status, `${method} ${path}`).toBe(404);
    }
    expect((await get<MessageView[]>(alice, `/api/messages/${bob.jid}`)).body.at(-1)!.body).toBe(
      'hello',
    );

    const thumbs = encodeURIComponent('👍');
    for (const user of [alice, bob]) {
      expect(
        (
          await http(server.url, 'PUT', `/api/messages/${id}/reactions/${thumbs}`, {
            auth: user.basic,
          })
        ).status,
      ).toBe(204);
    }
    // Adding it again changes nothing.
    await http(server.url, 'PUT', `/api/messages/${id}/reactions/${thumbs}`, { auth: bob.basic });
    await http(server.url, 'PUT', `/api/messages/${id}/reactions/${encodeURIComponent('🎉')}`, {
      auth: bob.basic,
    });
    expect(
      (await http(server.url, 'PUT', `/api/messages/${id}/reactions/lol`, { auth: bob.basic }))
        .status,
    ).toBe(400);
    const aliceView = (await get<MessageView[]>(alice, `/api/messages/${bob.jid}`)).body.at(-1)!;
    expect(aliceView.reactions).toEqual([
      { emoji: '👍', count: 2, mine: true },
      { emoji: '🎉', count: 1, mine: false },
    ]);
    expect(
      (await reactions.waitFor(3)).map((change) => [change.by, change.emoji, change.added]),
    ).toEqual([
      [alice.jid, '👍', true],
      [bob.jid, '👍', true],
      [bob.jid, '🎉', true],
    ]);
    await http(server.url, 'DELETE', `/api/messages/${id}/reactions/${encodeURIComponent('🎉')}`, {
      auth: bob.basic,
    });
    expect(
      (await get<MessageView[]>(bob, `/api/messages/${alice.jid}`)).body.at(-1)!.reactions,
    ).toEqual([{ emoji: '👍', count: 2, mine: true }]);

    expect(
      (await http(server.url, 'DELETE', `/api/messages/${id}`, { auth: alice.basic })).status,
    ).toBe(204);
    expect(
      (await http(server.url, 'DELETE', `/api/messages/${id}`, { auth: alice.basic })).status,
    ).toBe(204);
    expect((await retractions.waitFor(1))[0]).toMatchObject({ id, from: alice.jid, to: bob.jid });
    for (const [user, peer] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      const view = (await get<MessageView[]>(user, `/api/messages/${peer.jid}`)).body.at(-1)!;
      expect(view).toMatchObject({ id, body: '' });
      expect(view.retracted_at).toBeGreaterThan(0);
      expect(view.reactions).toBeUndefined();
      expect(view.revision).toBeUndefined();
    }
    expect((await inboxOf(bob))[0]!.last_message.body).toBe('');
    expect((await inboxOf(alice))[0]!.last_message.body).toBe('');
    const editRetracted = await http(server.url, 'PUT', `/api/messages/${id}`, {
      auth: alice.basic,
      json: { body: 'back' },
    });
    expect(editRetracted.status).toBe(409);
    expect(
      (
        await http(server.url, 'PUT', `/api/messages/${id}/reactions/${thumbs}`, {
          auth: bob.basic,
        })
      ).status,
    ).toBe(409);
  });

  it('edits over socket.io with the same rules', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const id = await send(alice, bob, 'typo');
    const aliceSocket = await socketOf(alice);
    const bobSocket = await socketOf(bob);

    const ack = (await aliceSocket.emitWithAck('message:edit', {
      id,
      body: 'fixed',
    })) as MessageView;
    expect(ack).toMatchObject({ id, body: 'fixed', revision: 1 });
    const refused = (await bobSocket.emitWithAck('message:edit', { id, body: 'mine now' })) as {
      error?: { status: number };
    };
    expect(refused.error?.status).toBe(403);
    expect(await bobSocket.emitWithAck('reaction:add', { id, emoji: '❤️' })).toEqual({ ok: true });
    expect(await aliceSocket.emitWithAck('message:retract', { id })).toEqual({ ok: true });
  });

  it('threads replies and filters the archive by thread', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const root = await send(alice, bob, 'shall we plan the trip?');
    const reply = await http<{ id: string }>(server.url, 'POST', '/api/messages', {
      auth: bob.basic,
      json: { to: alice.jid, body: 'yes!', reply_to: root },
    });
    expect(reply.status).toBe(200);
    await send(alice, bob, 'unrelated');
    const named = await http<{ id: string }>(server.url, 'POST', '/api/messages', {
      auth: alice.basic,
      json: { to: bob.jid, body: 'booked', reply_to: reply.body.id },
    });
    expect(named.status).toBe(200);

    const thread = await get<MessageView[]>(alice, `/api/messages/${bob.jid}?thread=${root}`);
    expect(thread.body.map((message) => message.body)).toEqual(['yes!', 'booked']);
    expect(thread.body[0]).toMatchObject({ reply_to: root, thread: root, direction: 'in' });
    expect(thread.body[1]).toMatchObject({ reply_to: reply.body.id, thread: root });

    // A reply must answer a message of the same conversation.
    const elsewhere = await send(carol, alice, 'carol here');
    const wrong = await http(server.url, 'POST', '/api/messages', {
      auth: alice.basic,
      json: { to: bob.jid, body: 'x', reply_to: elsewhere },
    });
    expect(wrong.status).toBe(404);
    expect((await get<MessageView[]>(bob, `/api/messages/${alice.jid}`)).body.length).toBe(4);
  });

  it('keeps a blocked user’s messages, markers and reactions away from the blocker', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const before = await send(alice, bob, 'before the block');
    const bobSocket = await socketOf(bob);
    const seen: string[] = [];
    for (const event of ['message', 'marker', 'message:reaction', 'message:edited', 'inbox']) {
      bobSocket.on(event, () => seen.push(event));
    }
    expect(
      (
        await http(server.url, 'POST', '/api/blocking', {
          auth: bob.basic,
          json: { jid: alice.jid },
        })
      ).status,
    ).toBeLessThan(300);

    await send(alice, bob, 'after the block');
    await http(server.url, 'PUT', `/api/messages/${before}/reactions/${encodeURIComponent('👍')}`, {
      auth: alice.basic,
    });
    await http(server.url, 'PUT', `/api/messages/${before}`, {
      auth: alice.basic,
      json: { body: 'edited after the block' },
    });
    // A probe from someone else proves the socket is live, so silence above means nothing was sent.
    const [carol] = await users('carol');
    const probe = new EventRecorder(bobSocket, 'message');
    await send(carol, bob, 'probe');
    await probe.waitFor(1);

    expect(seen.filter((event) => event !== 'inbox' && event !== 'message')).toEqual([]);
    expect(probe.events.length).toBe(1);
    const entry = (await inboxOf(bob)).find((item) => item.id === alice.jid)!;
    expect(entry).toMatchObject({ unread: 1, last_message: { body: 'before the block' } });
    const bobCopy = (await get<MessageView[]>(bob, `/api/messages/${alice.jid}`)).body;
    expect(bobCopy.map((message) => message.body)).toEqual(['before the block']);
    const aliceCopy = (await get<MessageView[]>(alice, `/api/messages/${bob.jid}`)).body;
    expect(aliceCopy.map((message) => message.body)).toEqual([
      'edited after the block',
      'after the block',
    ]);
  });

  it('asks for credentials on every new route', async () => {
    const id = '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b';
    for (const [method, path] of [
      ['GET', '/api/inbox'],
      ['GET', '/api/inbox/unread'],
      ['GET', '/api/inbox/chat/a@localhost'],
      ['PUT', '/api/inbox/chat/a@localhost'],
      ['POST', '/api/inbox/chat/a@localhost/reset'],
      ['GET', '/api/inbox/chat/a@localhost/markers'],
      ['PUT', `/api/messages/${id}`],
      ['DELETE', `/api/messages/${id}`],
      ['PUT', `/api/messages/${id}/reactions/x`],
      ['DELETE', `/api/messages/${id}/reactions/x`],
      ['POST', `/api/messages/${id}/markers`],
      ['GET', `/api/messages/${id}/markers`],
    ] as const) {
      expect((await http(server.url, method, path)).status, `${method} ${path}`).toBe(401);
    }
  });
});
