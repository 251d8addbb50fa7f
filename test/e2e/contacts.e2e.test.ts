import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ContactView } from '#src/contacts/contact-view.js';
import type { PresenceView } from '#src/presence/presence-view.js';
import {
  ADMIN_AUTH,
  EventRecorder,
  http,
  registerUser,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { createTestDatabase, servicesUp } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';
import { WebhookReceiver } from '#test/helpers/webhook-receiver.js';

/** A socket.io session whose recorders listen from before the handshake, so nothing early is missed. */
interface Session {
  readonly socket: Socket;
  readonly id: string;
  readonly contact: EventRecorder<ContactView>;
  readonly removed: EventRecorder<{ jid: string }>;
  readonly presence: EventRecorder<PresenceView>;
  readonly typing: EventRecorder<{ from: string; state: string }>;
  readonly message: EventRecorder<{ id: string; body: string; from: string }>;
}

describe.skipIf(!servicesUp())('contacts, presence subscriptions and blocking', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const sessions: Socket[] = [];
  const users: Record<string, TestUser> = {};

  beforeAll(async () => {
    // A database of its own: this suite's webhook endpoint must see only this suite's events.
    database = await createTestDatabase('contacts');
    server = await startTestServer({
      DATABASE_URL: database.url,
      CONTACTS_MAX_PER_USER: '3',
      BLOCKS_MAX_PER_USER: '2',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    });
    receiver = await WebhookReceiver.start();
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) {
      users[name] = await registerUser(server.url, server.domain, name);
    }
  });

  afterAll(async () => {
    sessions.forEach((socket) => socket.disconnect());
    await server?.stop();
    await receiver?.stop();
    await database?.drop();
  });

  const user = (name: string) => users[name]!;
  const call = <T = any>(name: string | undefined, method: string, path: string, json?: unknown) =>
    http<T>(server.url, method, path, {
      ...(name === undefined ? {} : { auth: user(name).basic }),
      ...(json === undefined ? {} : { json }),
    });
  const roster = async (name: string) => {
    const result = await call<ContactView[]>(name, 'GET', '/api/contacts');
    expect(result.status).toBe(200);

    return result.body;
  };
  const itemOf = async (name: string, other: string) =>
    (await roster(name)).find((item) => item.jid === user(other).jid);
  const act = (name: string, other: string, action: string) =>
    call<ContactView>(name, 'PUT', `/api/contacts/${user(other).jid}`, { action });

  async function connect(name: string, resource?: string): Promise<Session> {
    const token = await tokenFor(server.url, user(name));
    const socket = io(server.url, {
      auth: { token, ...(resource === undefined ? {} : { resource }) },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    sessions.push(socket);
    const recorders = {
      contact: new EventRecorder<ContactView>(socket, 'contact'),
      removed: new EventRecorder<{ jid: string }>(socket, 'contact:removed'),
      presence: new EventRecorder<PresenceView>(socket, 'presence'),
      typing: new EventRecorder<{ from: string; state: string }>(socket, 'typing'),
      message: new EventRecorder<{ id: string; body: string; from: string }>(socket, 'message'),
    };
    const opened = new EventRecorder<{ id: string }>(socket, 'session');
    socket.connect();
    const [session] = await opened.waitFor(1);

    return { socket, id: session!.id, ...recorders };
  }

  /** Presence pushes about `jid` a session got. */
  const presenceOf = (session: Session, name: string) =>
    session.presence.events.filter((view) => view.jid === user(name).jid);

  /** Waits until the session has a presence push about `name` matching `show`, with a bound. */
  async function waitForPresence(session: Session, name: string, show: string) {
    for (let count = 1; count <= 20; count += 1) {
      await session.presence.waitFor(count);
      const match = presenceOf(session, name).find((view) => view.show === show);
      if (match !== undefined) {
        return match;
      }
    }
    throw new Error(`no ${show} presence of ${name}`);
  }

  /**
   * Proves a session got nothing of a kind: sends it a message after the
   * thing that must not arrive; the server emits in order, so once the
   * message is there anything earlier would be too.
   */
  async function settle(session: Session, name: string) {
    const before = session.message.events.length;
    const marker = `marker ${Math.random()}`;
    const sent = await http(server.url, 'POST', '/api/admin/messages', {
      auth: ADMIN_AUTH,
      json: { from: user('hank').jid, to: user(name).jid, body: marker },
    });
    expect(sent.status).toBe(200);
    await session.message.waitFor(before + 1);
  }

  it('runs the full subscription flow, with both rosters and both owners’ sessions kept up to date', async () => {
    receiver.modes.set('contacts', 'ok');
    const endpoint = await http(server.url, 'POST', '/api/admin/webhooks', {
      auth: ADMIN_AUTH,
      json: {
        url: receiver.url,
        headers: { 'x-endpoint': 'contacts' },
        events: ['contact.*'],
        domains: [server.domain],
      },
    });
    expect(endpoint.status).toBe(201);
    const [alicePhone, aliceLaptop, bobPhone] = await Promise.all([
      connect('alice', 'phone'),
      connect('alice', 'laptop'),
      connect('bob', 'phone'),
    ]);
    const alice = user('alice').jid;
    const bob = user('bob').jid;

    // Alice invites Bob: she waits (ask out), he is asked (ask in).
    const invited = await act('alice', 'bob', 'invite');
    expect(invited.status).toBe(200);
    expect(invited.body).toEqual({ jid: bob, subscription: 'none', ask: 'out', groups: [] });
    expect(await roster('alice')).toEqual([invited.body]);
    expect(await roster('bob')).toEqual([
      { jid: alice, subscription: 'none', ask: 'in', groups: [] },
    ]);
    for (const session of [alicePhone, aliceLaptop]) {
      expect((await session.contact.waitFor(1))[0]).toEqual(invited.body);
    }
    expect((await bobPhone.contact.waitFor(1))[0]).toMatchObject({ jid: alice, ask: 'in' });

    // Asking again changes nothing on either side and is no error.
    expect((await act('alice', 'bob', 'invite')).body).toEqual(invited.body);
    expect(await itemOf('bob', 'alice')).toMatchObject({ subscription: 'none', ask: 'in' });

    // Bob accepts: Alice receives his presence (to), he sends it (from).
    const accepted = await act('bob', 'alice', 'accept');
    expect(accepted.body).toMatchObject({ jid: alice, subscription: 'from', ask: 'none' });
    expect(await itemOf('alice', 'bob')).toMatchObject({ subscription: 'to', ask: 'none' });
    expect((await alicePhone.contact.waitFor(2))[1]).toMatchObject({ subscription: 'to' });
    expect((await aliceLaptop.contact.waitFor(2))[1]).toMatchObject({ subscription: 'to' });
    // On acceptance Alice gets Bob's current presence.
    expect(await waitForPresence(alicePhone, 'bob', 'online')).toMatchObject({
      resources: [{ resource: 'phone', show: 'online' }],
    });

    // Bob asks back and Alice accepts: both.
    expect((await act('bob', 'alice', 'invite')).body).toMatchObject({
      subscription: 'from',
      ask: 'out',
    });
    expect(await itemOf('alice', 'bob')).toMatchObject({ subscription: 'to', ask: 'in' });
    expect((await act('alice', 'bob', 'accept')).body).toMatchObject({
      subscription: 'both',
      ask: 'none',
    });
    expect(await itemOf('bob', 'alice')).toMatchObject({ subscription: 'both', ask: 'none' });

    // Alice stops receiving Bob's presence (cancel), then stops him receiving hers (decline).
    expect((await act('alice', 'bob', 'cancel')).body).toMatchObject({ subscription: 'from' });
    expect(await itemOf('bob', 'alice')).toMatchObject({ subscription: 'to' });
    expect((await act('alice', 'bob', 'decline')).body).toMatchObject({ subscription: 'none' });
    expect(await itemOf('bob', 'alice')).toMatchObject({ subscription: 'none', ask: 'none' });
    // Nothing to decline or cancel any more: ignored, unchanged.
    expect((await act('alice', 'bob', 'decline')).body).toMatchObject({
      subscription: 'none',
      ask: 'none',
    });

    // Four subscriptions came and went, each a webhook event.
    await receiver.waitFor('contacts', 4);
    expect(
      receiver.events('contacts').map((event) => [event.type, event.data.user, event.data.contact]),
    ).toEqual([
      ['contact.subscribed', alice, bob],
      ['contact.subscribed', bob, alice],
      ['contact.unsubscribed', alice, bob],
      ['contact.unsubscribed', bob, alice],
    ]);
  });

  it('declines and withdraws requests, and a declined request leaves nothing in the asker’s contact’s roster', async () => {
    expect((await act('carol', 'dave', 'invite')).body).toMatchObject({ ask: 'out' });
    expect((await act('dave', 'carol', 'decline')).body).toEqual({
      jid: user('carol').jid,
      subscription: 'none',
      ask: 'none',
      groups: [],
    });
    // Dave never added Carol: the item that held her request is gone again.
    expect(await itemOf('dave', 'carol')).toBeUndefined();
    expect(await itemOf('carol', 'dave')).toMatchObject({ subscription: 'none', ask: 'none' });

    expect((await act('carol', 'dave', 'invite')).status).toBe(200);
    expect((await act('carol', 'dave', 'cancel')).body).toMatchObject({ ask: 'none' });
    expect(await itemOf('dave', 'carol')).toBeUndefined();
  });

  it('sets names and groups, removes one contact and several, and pushes each change', async () => {
    const erin = await connect('erin');
    const added = await call<ContactView>('erin', 'POST', '/api/contacts', {
      jid: user('frank').jid.toUpperCase(),
      name: 'Frank',
      groups: ['Work', 'Work', 'Chess'],
    });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      jid: user('frank').jid,
      subscription: 'none',
      ask: 'none',
      name: 'Frank',
      groups: ['Work', 'Chess'],
    });
    expect((await call('erin', 'POST', '/api/contacts', { jid: user('frank').jid })).status).toBe(
      200,
    );
    const renamed = await call<ContactView>('erin', 'PATCH', `/api/contacts/${user('frank').jid}`, {
      name: null,
      groups: ['Friends'],
    });
    expect(renamed.body).toEqual({
      jid: user('frank').jid,
      subscription: 'none',
      ask: 'none',
      groups: ['Friends'],
    });
    expect((await erin.contact.waitFor(3))[2]).toEqual(renamed.body);
    // Adding does not ask anything of Frank.
    expect(await roster('frank')).toEqual([]);

    // A contact on a domain not served here is kept on this side only.
    const remote = await call<ContactView>('erin', 'PUT', '/api/contacts/zed@elsewhere.example', {
      action: 'invite',
    });
    expect(remote.body).toMatchObject({ jid: 'zed@elsewhere.example', ask: 'out' });

    expect((await call('erin', 'DELETE', `/api/contacts/${user('frank').jid}`)).status).toBe(204);
    expect((await erin.removed.waitFor(1))[0]).toEqual({ jid: user('frank').jid });
    expect((await call('erin', 'DELETE', `/api/contacts/${user('frank').jid}`)).status).toBe(404);

    await call('erin', 'POST', '/api/contacts', { jid: user('gina').jid });
    const bulk = await call<{ not_deleted: string[] }>('erin', 'DELETE', '/api/contacts', {
      to_delete: [user('gina').jid, 'zed@elsewhere.example', user('frank').jid],
    });
    expect(bulk.status).toBe(200);
    expect(bulk.body).toEqual({ not_deleted: [user('frank').jid] });
    expect(await roster('erin')).toEqual([]);
  });

  it('removing a contact cancels the subscriptions on the other side too', async () => {
    await act('gina', 'hank', 'invite');
    await act('hank', 'gina', 'accept');
    await act('hank', 'gina', 'invite');
    await act('gina', 'hank', 'accept');
    expect(await itemOf('hank', 'gina')).toMatchObject({ subscription: 'both' });

    expect((await call('gina', 'DELETE', `/api/contacts/${user('hank').jid}`)).status).toBe(204);
    expect(await itemOf('gina', 'hank')).toBeUndefined();
    expect(await itemOf('hank', 'gina')).toMatchObject({ subscription: 'none', ask: 'none' });
    await call('hank', 'DELETE', `/api/contacts/${user('gina').jid}`);
  });

  it('refuses bad input with a problem and stores nothing', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/api/contacts', { jid: 'not a jid' }, 400, 'invalid-jid'],
      ['POST', '/api/contacts', { jid: user('erin').jid }, 400, 'validation'],
      ['POST', '/api/contacts', { jid: `nobody@${server.domain}` }, 404, 'user-not-found'],
      ['POST', '/api/contacts', { jid: user('bob').jid, extra: 1 }, 400, 'validation'],
      ['POST', '/api/contacts', { jid: user('bob').jid, groups: 'x' }, 400, 'validation'],
      ['PUT', `/api/contacts/${user('bob').jid}`, { action: 'befriend' }, 400, 'validation'],
      ['PUT', `/api/contacts/nobody@${server.domain}`, { action: 'invite' }, 404, 'user-not-found'],
      ['PATCH', `/api/contacts/${user('bob').jid}`, { name: 'B' }, 404, 'not-found'],
      ['DELETE', '/api/contacts', { to_delete: ['ok@x.example', 'bad jid'] }, 400, 'invalid-jid'],
      ['PUT', '/api/presence', { show: 'sleeping' }, 400, 'validation'],
      ['POST', '/api/typing', { to: user('bob').jid, state: 'dancing' }, 400, 'validation'],
      ['POST', '/api/blocking', { jid: 'a@b/c' }, 400, 'invalid-jid'],
      ['POST', '/api/blocking', { jid: user('erin').jid }, 400, 'validation'],
    ];
    for (const [method, path, json, status, type] of cases) {
      const result = await call<{ type: string }>('erin', method, path, json);
      expect([method, path, result.status, result.body.type]).toEqual([
        method,
        path,
        status,
        `/problems/${type}`,
      ]);
    }
    expect(await roster('erin')).toEqual([]);
    // Presence belongs to sessions: Hank has none.
    const sessionless = await call<{ type: string }>('hank', 'PUT', '/api/presence', {
      show: 'away',
    });
    expect([sessionless.status, sessionless.body.type]).toEqual([409, '/problems/no-session']);
  });

  it('sends presence only to subscribed contacts, and the offline presence and last activity when the last session closes', async () => {
    // Carol receives Dave's presence; Erin is in Dave's roster without any subscription.
    await act('carol', 'dave', 'invite');
    await act('dave', 'carol', 'accept');
    await call('dave', 'POST', '/api/contacts', { jid: user('erin').jid });
    await call('erin', 'POST', '/api/contacts', { jid: user('dave').jid });
    const carol = await connect('carol');
    const erin = await connect('erin');
    expect(
      (await call('carol', 'GET', `/api/contacts/${user('dave').jid}/last-activity`)).body,
    ).toEqual({
      jid: user('dave').jid,
      online: false,
    });

    const dave = await connect('dave', 'desk');
    expect(await waitForPresence(carol, 'dave', 'online')).toEqual({
      jid: user('dave').jid,
      show: 'online',
      resources: [{ resource: 'desk', show: 'online' }],
    });
    // Dave's own session hears it too.
    await waitForPresence(dave, 'dave', 'online');

    const ack = (await dave.socket.emitWithAck('presence:set', {
      show: 'dnd',
      status: 'Deep work',
    })) as PresenceView;
    expect(ack).toMatchObject({ show: 'dnd', status: 'Deep work' });
    expect(await waitForPresence(carol, 'dave', 'dnd')).toMatchObject({ status: 'Deep work' });
    // Over REST, for one named session.
    const set = await call<PresenceView>('dave', 'PUT', '/api/presence', {
      show: 'away',
      status: 'Lunch',
      session: dave.id,
    });
    expect(set.status).toBe(200);
    await waitForPresence(carol, 'dave', 'away');
    expect((await call<PresenceView[]>('carol', 'GET', '/api/presence')).body).toEqual([
      {
        jid: user('dave').jid,
        show: 'away',
        status: 'Lunch',
        resources: [{ resource: 'desk', show: 'away', status: 'Lunch' }],
      },
    ]);
    expect(
      (await call('carol', 'GET', `/api/contacts/${user('dave').jid}/last-activity`)).body,
    ).toEqual({
      jid: user('dave').jid,
      online: true,
      seconds: 0,
    });

    dave.socket.disconnect();
    expect(await waitForPresence(carol, 'dave', 'offline')).toEqual({
      jid: user('dave').jid,
      show: 'offline',
      resources: [],
    });
    await settle(erin, 'erin');
    expect(presenceOf(erin, 'dave')).toEqual([]);

    const seen = await http<{
      online: boolean;
      seconds: number;
      last_seen: number;
      status: string;
    }>(server.url, 'GET', `/api/contacts/${user('dave').jid}/last-activity`, {
      auth: user('carol').basic,
    });
    expect(seen.body).toMatchObject({ jid: user('dave').jid, online: false, status: 'Lunch' });
    expect(seen.body.last_seen).toBeGreaterThan(Date.now() - 60_000);
    expect(seen.body.seconds).toBeLessThan(60);
    // Erin is not subscribed; for her, Dave's last activity is as closed as a JID that does not exist.
    for (const jid of [user('dave').jid, `nobody@${server.domain}`]) {
      const refused = await call<{ type: string }>(
        'erin',
        'GET',
        `/api/contacts/${jid}/last-activity`,
      );
      expect([refused.status, refused.body.type]).toEqual([403, '/problems/forbidden']);
    }
    carol.socket.disconnect();
    erin.socket.disconnect();
  });

  it('sends typing notifications to the peer’s sessions and keeps none of them', async () => {
    const bob = await connect('bob');
    const alice = await connect('alice');
    const ack = await alice.socket.emitWithAck('typing', {
      to: user('bob').jid,
      state: 'composing',
    });
    expect(ack).toEqual({});
    expect((await bob.typing.waitFor(1))[0]).toEqual({
      from: user('alice').jid,
      state: 'composing',
    });
    expect(
      (await call('alice', 'POST', '/api/typing', { to: user('bob').jid, state: 'paused' })).status,
    ).toBe(204);
    expect((await bob.typing.waitFor(2))[1]).toEqual({ from: user('alice').jid, state: 'paused' });
    const archive = await call<unknown[]>('bob', 'GET', `/api/messages/${user('alice').jid}`);
    expect(archive.body).toEqual([]);
    bob.socket.disconnect();
    alice.socket.disconnect();
  });

  it('blocks: the blocked party’s messages, typing, requests and presence stop, and it learns nothing', async () => {
    // Frank and Gina are subscribed to each other.
    await act('frank', 'gina', 'invite');
    await act('gina', 'frank', 'accept');
    await act('gina', 'frank', 'invite');
    await act('frank', 'gina', 'accept');
    const frank = await connect('frank');
    const gina = await connect('gina');
    await waitForPresence(frank, 'gina', 'online');

    const blocked = await call<{ jid: string; blocked_at: string }>(
      'gina',
      'POST',
      '/api/blocking',
      {
        jid: user('frank').jid,
      },
    );
    expect(blocked.status).toBe(201);
    expect(blocked.body.jid).toBe(user('frank').jid);
    expect((await call('gina', 'POST', '/api/blocking', { jid: user('frank').jid })).status).toBe(
      200,
    );
    expect((await call('gina', 'GET', '/api/blocking')).body).toEqual([blocked.body]);
    // Each sees the other go offline.
    await waitForPresence(frank, 'gina', 'offline');
    await waitForPresence(gina, 'frank', 'offline');

    // Frank's message looks sent to him, and Gina never gets it.
    const sent = await call<{ id: string }>('frank', 'POST', '/api/messages', {
      to: user('gina').jid,
      body: 'are you there?',
    });
    expect(sent.status).toBe(200);
    expect(sent.body.id).toMatch(/^[0-9a-f-]{36}$/);
    // Again, with both blocklists cached by now: the same verdict without reading them.
    const again = await call<{ id: string }>('frank', 'POST', '/api/messages', {
      to: user('gina').jid,
      body: 'still there?',
    });
    expect(again.status).toBe(200);
    expect(
      (await call<{ id: string }[]>('frank', 'GET', `/api/messages/${user('gina').jid}`)).body.map(
        (m) => m.id,
      ),
    ).toEqual([sent.body.id, again.body.id]);
    expect((await call('gina', 'GET', `/api/messages/${user('frank').jid}`)).body).toEqual([]);
    // Typing and presence from Frank are dropped too, without an error.
    expect(
      (await call('frank', 'POST', '/api/typing', { to: user('gina').jid, state: 'composing' }))
        .status,
    ).toBe(204);
    await frank.socket.emitWithAck('presence:set', { show: 'away' });
    await settle(gina, 'gina');
    expect(gina.message.events.map((message) => message.body)).not.toContain('are you there?');
    expect(gina.message.events.map((message) => message.body)).not.toContain('still there?');
    expect(gina.typing.events).toEqual([]);
    // Frank was online, went offline with the block, and nothing of his came after.
    const shows = presenceOf(gina, 'frank').map((view) => view.show);
    expect(shows.at(-1)).toBe('offline');
    expect(shows.indexOf('offline')).toBe(shows.length - 1);
    expect(new Set(shows.slice(0, -1))).toEqual(new Set(['online']));

    // Gina sending to Frank, or asking him anything, gets a clear problem.
    for (const attempt of [
      call<{ type: string }>('gina', 'POST', '/api/messages', {
        to: user('frank').jid,
        body: 'hi',
      }),
      call<{ type: string }>('gina', 'POST', '/api/messages', {
        to: user('frank').jid,
        body: 'hi again',
      }),
      call<{ type: string }>('gina', 'POST', '/api/typing', {
        to: user('frank').jid,
        state: 'composing',
      }),
      act('gina', 'frank', 'invite') as Promise<{ status: number; body: any }>,
    ]) {
      const result = await attempt;
      expect([result.status, result.body.type]).toEqual([409, '/problems/recipient-blocked']);
    }

    // Unblocked, presence flows again both ways.
    expect((await call('gina', 'DELETE', `/api/blocking/${user('frank').jid}`)).status).toBe(204);
    expect((await call('gina', 'GET', '/api/blocking')).body).toEqual([]);
    await waitForPresence(gina, 'frank', 'away');
    expect(
      (await call('frank', 'POST', '/api/messages', { to: user('gina').jid, body: 'back' })).status,
    ).toBe(200);
    expect((await gina.message.waitFor(2)).map((message) => message.body)).toContain('back');
    frank.socket.disconnect();
    gina.socket.disconnect();
  });

  it('keeps a blocked user’s subscription request from the blocker, and blocks whole domains', async () => {
    await call('hank', 'POST', '/api/blocking', { jid: user('carol').jid });
    expect((await act('carol', 'hank', 'invite')).body).toMatchObject({ ask: 'out' });
    expect(await itemOf('hank', 'carol')).toBeUndefined();

    const domainBlock = await call('hank', 'POST', '/api/blocking', { jid: 'spam.example' });
    expect(domainBlock.status).toBe(201);
    const third = await call<{ type: string }>('hank', 'POST', '/api/blocking', {
      jid: user('dave').jid,
    });
    expect([third.status, third.body.type]).toEqual([409, '/problems/blocks-limit-reached']);
    const cleared = await call<{ unblocked: string[] }>('hank', 'DELETE', '/api/blocking');
    expect(cleared.body).toEqual({ unblocked: ['spam.example', user('carol').jid].sort() });
  });

  it('refuses a contact over CONTACTS_MAX_PER_USER without storing it', async () => {
    for (const jid of ['a@one.example', 'b@one.example', 'c@one.example']) {
      expect((await call('hank', 'POST', '/api/contacts', { jid })).status).toBe(201);
    }
    const over = await call<{ type: string }>('hank', 'POST', '/api/contacts', {
      jid: 'd@one.example',
    });
    expect([over.status, over.body.type]).toEqual([409, '/problems/contacts-limit-reached']);
    const invite = await call<{ type: string }>('hank', 'PUT', '/api/contacts/e@one.example', {
      action: 'invite',
    });
    expect(invite.status).toBe(409);
    expect((await roster('hank')).map((item) => item.jid)).toEqual([
      'a@one.example',
      'b@one.example',
      'c@one.example',
    ]);
    await call('hank', 'DELETE', '/api/contacts', {
      to_delete: ['a@one.example', 'b@one.example', 'c@one.example'],
    });
  });

  it('answers 401 on every route without credentials, and never shows one user another’s data', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/contacts'],
      ['POST', '/api/contacts', { jid: user('bob').jid }],
      ['DELETE', '/api/contacts', { to_delete: [user('bob').jid] }],
      ['PUT', `/api/contacts/${user('bob').jid}`, { action: 'invite' }],
      ['PATCH', `/api/contacts/${user('bob').jid}`, { name: 'x' }],
      ['DELETE', `/api/contacts/${user('bob').jid}`],
      ['GET', `/api/contacts/${user('bob').jid}/last-activity`],
      ['GET', '/api/presence'],
      ['PUT', '/api/presence', { show: 'away' }],
      ['POST', '/api/typing', { to: user('bob').jid, state: 'composing' }],
      ['GET', '/api/blocking'],
      ['POST', '/api/blocking', { jid: user('bob').jid }],
      ['DELETE', '/api/blocking'],
      ['DELETE', `/api/blocking/${user('bob').jid}`],
    ];
    for (const [method, path, json] of routes) {
      const anonymous = await call<{ type: string }>(undefined, method, path, json);
      expect([method, path, anonymous.status, anonymous.body.type]).toEqual([
        method,
        path,
        401,
        '/problems/unauthorized',
      ]);
      const wrong = await http(server.url, method, path, {
        auth: 'Bearer not-a-token',
        ...(json === undefined ? {} : { json }),
      });
      expect(wrong.status).toBe(401);
    }

    // Alice's roster item for Erin, her blocklist and her session are hers alone.
    await call('alice', 'POST', '/api/contacts', { jid: user('erin').jid, name: 'E' });
    await call('alice', 'POST', '/api/blocking', { jid: 'spam.example' });
    const aliceSession = await connect('alice');
    expect((await roster('bob')).map((item) => item.jid)).not.toContain(user('erin').jid);
    expect((await call('bob', 'GET', '/api/blocking')).body).toEqual([]);
    expect(
      (await call('bob', 'PATCH', `/api/contacts/${user('erin').jid}`, { name: 'mine' })).status,
    ).toBe(404);
    expect((await call('bob', 'DELETE', `/api/contacts/${user('erin').jid}`)).status).toBe(404);
    expect((await call('bob', 'DELETE', '/api/blocking/spam.example')).status).toBe(204);
    const hijack = await call<{ type: string }>('bob', 'PUT', '/api/presence', {
      show: 'xa',
      session: aliceSession.id,
    });
    expect([hijack.status, hijack.body.type]).toEqual([404, '/problems/session-not-found']);
    // Bob's last-activity view of Alice: he receives none of her presence.
    expect(
      (await call('bob', 'GET', `/api/contacts/${user('alice').jid}/last-activity`)).status,
    ).toBe(403);
    // Nothing of Alice's changed.
    expect(await itemOf('alice', 'erin')).toMatchObject({ name: 'E' });
    expect(
      (await call<{ jid: string }[]>('alice', 'GET', '/api/blocking')).body.map((b) => b.jid),
    ).toEqual(['spam.example']);
    aliceSession.socket.disconnect();

    // Admins read any roster; users cannot open the admin route.
    const [domain, local] = [server.domain, 'alice'];
    const adminView = await http<ContactView[]>(
      server.url,
      'GET',
      `/api/admin/users/${domain}/${local}/contacts`,
      { auth: ADMIN_AUTH },
    );
    expect(adminView.body).toEqual(await roster('alice'));
    expect(
      (await call('alice', 'GET', `/api/admin/users/${domain}/${local}/contacts`)).status,
    ).toBe(401);
    expect(
      (
        await http(server.url, 'GET', `/api/admin/users/${domain}/nobody/contacts`, {
          auth: ADMIN_AUTH,
        })
      ).status,
    ).toBe(404);
  });
});

describe.skipIf(!servicesUp())('presence and blocking across two nodes', () => {
  const domain = uniqueDomain();
  const shared = { REDIS_KEY_PREFIX: `test:contacts-cluster:${domain}:` };
  let nodeA: TestServer;
  let nodeB: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    nodeA = await startTestServer({ ...shared, NODE_ID: 'node-a' }, { domain });
    nodeB = await startTestServer({ ...shared, NODE_ID: 'node-b' }, { domain });
    alice = await registerUser(nodeA.url, domain, 'alice');
    bob = await registerUser(nodeA.url, domain, 'bob');
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  });

  it('sends presence set on node B to a subscriber on node A, and a block made on A holds on B', async () => {
    const put = (base: string, who: TestUser, path: string, json: unknown) =>
      http(base, 'PUT', path, { auth: who.basic, json });
    expect(
      (await put(nodeA.url, alice, `/api/contacts/${bob.jid}`, { action: 'invite' })).status,
    ).toBe(200);
    expect(
      (await put(nodeB.url, bob, `/api/contacts/${alice.jid}`, { action: 'accept' })).status,
    ).toBe(200);

    const aliceOnA = io(nodeA.url, {
      auth: { token: await tokenFor(nodeA.url, alice) },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    sockets.push(aliceOnA);
    const presence = new EventRecorder<PresenceView>(aliceOnA, 'presence');
    const messages = new EventRecorder<{ body: string }>(aliceOnA, 'message');
    const opened = new EventRecorder(aliceOnA, 'session');
    aliceOnA.connect();
    await opened.waitFor(1);
    const bobOnB = io(nodeB.url, {
      auth: { token: await tokenFor(nodeB.url, bob), resource: 'tablet' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    sockets.push(bobOnB);
    const bobOpened = new EventRecorder<{ id: string }>(bobOnB, 'session');
    bobOnB.connect();
    const [bobSession] = await bobOpened.waitFor(1);

    // Set over REST on node A for Bob's session held by node B.
    const set = await put(nodeA.url, bob, '/api/presence', {
      show: 'xa',
      status: 'Holidays',
      session: bobSession!.id,
    });
    expect(set.status).toBe(200);
    const bobViews = () => presence.events.filter((view) => view.jid === bob.jid);
    for (let count = 1; !bobViews().some((view) => view.show === 'xa'); count += 1) {
      await presence.waitFor(count);
    }
    expect(bobViews().find((view) => view.show === 'xa')).toEqual({
      jid: bob.jid,
      show: 'xa',
      status: 'Holidays',
      resources: [{ resource: 'tablet', show: 'xa', status: 'Holidays' }],
    });

    // Alice blocks Bob on node A; node B's blocklist cache hears of it before the answer.
    expect(
      (
        await http(nodeA.url, 'POST', '/api/blocking', {
          auth: alice.basic,
          json: { jid: bob.jid },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await http(nodeB.url, 'POST', '/api/messages', {
          auth: bob.basic,
          json: { to: alice.jid, body: 'blocked' },
        })
      ).status,
    ).toBe(200);
    expect(
      (await http(nodeA.url, 'DELETE', `/api/blocking/${bob.jid}`, { auth: alice.basic })).status,
    ).toBe(204);
    expect(
      (
        await http(nodeB.url, 'POST', '/api/messages', {
          auth: bob.basic,
          json: { to: alice.jid, body: 'unblocked' },
        })
      ).status,
    ).toBe(200);
    await messages.waitFor(1);
    expect(messages.events.map((message) => message.body)).toEqual(['unblocked']);
  });
});
