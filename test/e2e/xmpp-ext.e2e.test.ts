import { xml } from '@xmpp/client';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BlockView } from '#src/blocking/block-view.js';
import type { InboxEntryView } from '#src/inbox/inbox-view.js';
import type { MarkerView, MessageView } from '#src/messaging/message-view.js';
import type { TypingView } from '#src/presence/presence-view.js';
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
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

type Element = TestXmppClient['stanzas'][number];

const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';
const BLOCKING = 'urn:xmpp:blocking';
const MARKERS = 'urn:xmpp:chat-markers:0';
const RECEIPTS = 'urn:xmpp:receipts';
const CORRECT = 'urn:xmpp:message-correct:0';
const RETRACT = 'urn:xmpp:message-retract:1';
const CHAT_STATES = 'http://jabber.org/protocol/chatstates';
const STANZA_ID = 'urn:xmpp:sid:0';
const CSI = 'urn:xmpp:csi:0';

/** The message inside a carbon of `kind`, when `stanza` is one. */
function carbonInner(stanza: Element, kind: 'sent' | 'received'): Element | undefined {
  return stanza.is('message')
    ? stanza.getChild(kind, CARBONS)?.getChild('forwarded', FORWARD)?.getChild('message')
    : undefined;
}

function errorCondition(stanza: Element): string | undefined {
  return stanza
    .getChild('error')
    ?.children.find(
      (child): child is Element =>
        typeof child !== 'string' && child.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas',
    )?.name;
}

function bodyMessage(body: string) {
  return (stanza: Element) => stanza.is('message') && stanza.getChildText('body') === body;
}

describe.skipIf(!servicesUp())('XMPP extensions over the domain services', () => {
  let server: TestServer;
  const users = new Map<string, TestUser>();
  const clients: TestXmppClient[] = [];
  const sockets: Socket[] = [];
  let pings = 0;

  const user = (name: string) => users.get(name)!;

  beforeAll(async () => {
    server = await startTestServer();
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) {
      users.set(name, await registerUser(server.url, server.domain, name));
    }
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await Promise.all(clients.map((client) => client.stop()));
    await server?.stop();
  });

  /** Logs in, sends initial presence (with a priority when given) and waits until it is processed. */
  async function online(name: string, resource: string, priority?: number) {
    const client = await connectXmpp(server, user(name), { resource });
    clients.push(client);
    await client.xmpp.send(
      priority === undefined
        ? xml('presence')
        : xml('presence', {}, xml('priority', {}, String(priority))),
    );
    await sync(client);

    return client;
  }

  /** A ping round trip: whatever the server sent this client before is received once it returns. */
  async function sync(client: TestXmppClient): Promise<void> {
    pings += 1;
    await client.xmpp.iqCaller.request(
      xml('iq', { type: 'get', id: `sync-${pings}` }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      5000,
    );
  }

  async function enableCarbons(client: TestXmppClient): Promise<void> {
    await client.xmpp.iqCaller.request(
      xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS })),
      5000,
    );
  }

  async function socketOf(name: string, resource = 'app') {
    const socket = await connectSocket(server.url, {
      token: await tokenFor(server.url, user(name)),
      resource,
    });
    sockets.push(socket);

    return socket;
  }

  async function conversation(name: string, other: string): Promise<MessageView[]> {
    const result = await http<MessageView[]>(
      server.url,
      'GET',
      `/api/messages/${user(other).jid}`,
      { auth: user(name).basic },
    );
    expect(result.status).toBe(200);

    return result.body;
  }

  async function befriend(a: string, b: string): Promise<void> {
    const act = (from: string, to: string, action: string) =>
      http(server.url, 'PUT', `/api/contacts/${user(to).jid}`, {
        auth: user(from).basic,
        json: { action },
      });
    for (const [from, to, action] of [
      [a, b, 'invite'],
      [b, a, 'accept'],
      [b, a, 'invite'],
      [a, b, 'accept'],
    ] as const) {
      expect((await act(from, to, action)).status).toBe(200);
    }
  }

  async function discoFeatures(client: TestXmppClient): Promise<string[]> {
    const result = await client.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'get', to: server.domain },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
      5000,
    );

    return result
      .getChild('query')!
      .getChildren('feature')
      .map((feature: Element) => feature.attrs.var as string);
  }

  it('lists each extension in service discovery', async () => {
    const alice = await online('alice', 'disco');
    const features = await discoFeatures(alice);
    for (const feature of [CARBONS, BLOCKING, MARKERS, RECEIPTS, CORRECT, RETRACT, CHAT_STATES]) {
      expect(features).toContain(feature);
    }
    await alice.stop();
  });

  it('copies messages to the sender’s other XMPP and socket.io sessions, never to the sending one, and honours private', async () => {
    const phone = await online('alice', 'phone');
    const laptop = await online('alice', 'laptop');
    await Promise.all([enableCarbons(phone), enableCarbons(laptop)]);
    const socket = await socketOf('alice');
    const sentCopies = new EventRecorder<MessageView>(socket, 'message:sent');
    const incoming = new EventRecorder<MessageView>(socket, 'message');
    const bob = await online('bob', 'desk');

    // From the phone: the laptop gets a sent carbon with the phone's id, socket.io gets message:sent.
    await phone.xmpp.send(
      xml(
        'message',
        { to: user('bob').jid, type: 'chat', id: 'phone-1' },
        xml('body', {}, 'from the phone'),
        xml('origin-id', { xmlns: STANZA_ID, id: 'phone-1' }),
      ),
    );
    // RFC 6120 section 8.1.2.1: from the sending resource's full JID.
    expect((await bob.waitFor(bodyMessage('from the phone'))).attrs.from).toBe(
      `${user('alice').jid}/phone`,
    );
    const carbon = await laptop.waitFor(
      (stanza) => carbonInner(stanza, 'sent')?.getChildText('body') === 'from the phone',
    );
    expect(carbon.attrs.from).toBe(user('alice').jid);
    const inner = carbonInner(carbon, 'sent')!;
    expect(inner.attrs).toMatchObject({
      from: `${user('alice').jid}/phone`,
      to: user('bob').jid,
      id: 'phone-1',
    });
    const [copy] = await sentCopies.waitFor(1);
    expect(copy).toMatchObject({
      to: user('bob').jid,
      body: 'from the phone',
      client_id: 'phone-1',
    });
    expect(inner.getChild('stanza-id', STANZA_ID)?.attrs.id).toBe(copy!.id);

    // From socket.io and from REST: both XMPP sessions get sent carbons.
    const ack = await socket.emitWithAck('message:send', {
      to: user('bob').jid,
      body: 'from socket',
    });
    expect(ack).toHaveProperty('id');
    expect(
      (await sendMessage(server.url, user('alice').basic, user('bob').jid, 'from REST')).status,
    ).toBe(200);
    for (const client of [phone, laptop]) {
      for (const body of ['from socket', 'from REST']) {
        await client.waitFor(
          (stanza) => carbonInner(stanza, 'sent')?.getChildText('body') === body,
        );
      }
    }

    // Bob answers the bare JID: every session has it as a message, none as a carbon.
    await bob.xmpp.send(
      xml('message', { to: user('alice').jid, type: 'chat' }, xml('body', {}, 'reply from bob')),
    );
    for (const client of [phone, laptop]) {
      await client.waitFor(bodyMessage('reply from bob'));
    }
    await incoming.waitFor(1);

    // A private message reaches Bob and no other session of Alice's.
    await phone.xmpp.send(
      xml(
        'message',
        { to: user('bob').jid, type: 'chat' },
        xml('body', {}, 'private one'),
        xml('private', { xmlns: CARBONS }),
        xml('no-copy', { xmlns: 'urn:xmpp:hints' }),
      ),
    );
    await bob.waitFor(bodyMessage('private one'));
    await phone.xmpp.send(
      xml('message', { to: user('bob').jid, type: 'chat' }, xml('body', {}, 'after private')),
    );
    await laptop.waitFor(
      (stanza) => carbonInner(stanza, 'sent')?.getChildText('body') === 'after private',
    );
    await sync(phone);
    // socket.io's own send is the one it does not hear of.
    expect(sentCopies.events.map((view) => view.body)).toEqual([
      'from the phone',
      'from REST',
      'after private',
    ]);
    expect(laptop.stanzas.some((stanza) => stanza.toString().includes('private one'))).toBe(false);
    // The sending session never hears its own messages back.
    const phoneCarbons = phone.stanzas.map((stanza) =>
      carbonInner(stanza, 'sent')?.getChildText('body'),
    );
    expect(phoneCarbons.filter((body) => body !== undefined)).toEqual(['from socket', 'from REST']);
    expect((await conversation('alice', 'bob')).map((view) => view.body)).toContain('private one');

    // A resource with a negative priority gets no bare-JID message, but a received carbon.
    const watch = await online('alice', 'watch', -1);
    await enableCarbons(watch);
    await sendMessage(server.url, user('bob').basic, user('alice').jid, 'to every device');
    const received = await watch.waitFor(
      (stanza) => carbonInner(stanza, 'received')?.getChildText('body') === 'to every device',
    );
    expect(carbonInner(received, 'received')!.attrs.from).toBe(user('bob').jid);
    await sync(watch);
    expect(watch.stanzas.some(bodyMessage('to every device'))).toBe(false);
    // Nor of a private one (XEP-0280 section 7 holds for the recipient's side too).
    await bob.xmpp.send(
      xml(
        'message',
        { to: user('alice').jid, type: 'chat' },
        xml('body', {}, 'private to alice'),
        xml('private', { xmlns: CARBONS }),
      ),
    );
    await phone.waitFor(bodyMessage('private to alice'));
    await sync(watch);
    expect(watch.stanzas.some((stanza) => stanza.toString().includes('private to alice'))).toBe(
      false,
    );

    // Carbons off: no more copies.
    await laptop.xmpp.iqCaller.request(
      xml('iq', { type: 'set' }, xml('disable', { xmlns: CARBONS })),
      5000,
    );
    await sendMessage(server.url, user('alice').basic, user('bob').jid, 'after disable');
    await phone.waitFor(
      (stanza) => carbonInner(stanza, 'sent')?.getChildText('body') === 'after disable',
    );
    await sync(laptop);
    expect(
      laptop.stanzas.some(
        (stanza) => carbonInner(stanza, 'sent')?.getChildText('body') === 'after disable',
      ),
    ).toBe(false);
    await Promise.all([phone.stop(), laptop.stop(), watch.stop(), bob.stop()]);
  });

  it('refuses a carbon a client forges, and stores and delivers nothing of it', async () => {
    const carol = await online('carol', 'forger');
    const bob = await online('bob', 'victim');
    await enableCarbons(bob);
    const before = (await conversation('bob', 'carol')).length;
    await carol.xmpp.send(
      xml(
        'message',
        { to: user('bob').jid, type: 'chat', id: 'forged-1' },
        xml(
          'sent',
          { xmlns: CARBONS },
          xml(
            'forwarded',
            { xmlns: FORWARD },
            xml(
              'message',
              { from: user('bob').jid, to: user('dave').jid, type: 'chat' },
              xml('body', {}, 'forged words'),
            ),
          ),
        ),
        xml('body', {}, 'forged words'),
      ),
    );
    const error = await carol.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.type === 'error' && stanza.attrs.id === 'forged-1',
    );
    expect(errorCondition(error)).toBe('not-acceptable');
    await sync(bob);
    expect(bob.stanzas.some((stanza) => stanza.toString().includes('forged words'))).toBe(false);
    expect(await conversation('bob', 'carol')).toHaveLength(before);
    await Promise.all([carol.stop(), bob.stop()]);
  });

  it('blocks and unblocks over XMPP and REST on one blocklist, with pushes to both', async () => {
    const dave = await online('dave', 'mobile');
    const socket = await socketOf('dave');
    const blocks = new EventRecorder<BlockView>(socket, 'block');
    const unblocks = new EventRecorder<{ jid: string }>(socket, 'block:removed');
    const blocklist = async () =>
      (
        await dave.xmpp.iqCaller.request(
          xml('iq', { type: 'get' }, xml('blocklist', { xmlns: BLOCKING })),
          5000,
        )
      )
        .getChild('blocklist', BLOCKING)!
        .getChildren('item')
        .map((item: Element) => item.attrs.jid as string);
    const restList = async () =>
      (
        await http<BlockView[]>(server.url, 'GET', '/api/blocking', { auth: user('dave').basic })
      ).body.map((item) => item.jid);
    const pushOf = (kind: 'block' | 'unblock', jid: string) => (stanza: Element) =>
      stanza.is('iq') &&
      stanza.attrs.type === 'set' &&
      stanza.getChild(kind, BLOCKING)?.getChild('item')?.attrs.jid === jid;

    expect(await blocklist()).toEqual([]);

    // XMPP blocks: REST sees it, socket.io hears it, the XMPP session gets the push.
    await dave.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set' },
        xml('block', { xmlns: BLOCKING }, xml('item', { jid: user('erin').jid })),
      ),
      5000,
    );
    expect(await restList()).toEqual([user('erin').jid]);
    await blocks.waitFor(1);
    expect(blocks.events[0]!.jid).toBe(user('erin').jid);
    await dave.waitFor(pushOf('block', user('erin').jid));

    // REST blocks: the XMPP session gets the push and lists it.
    const added = await http(server.url, 'POST', '/api/blocking', {
      auth: user('dave').basic,
      json: { jid: 'blocked.example' },
    });
    expect(added.status).toBe(201);
    await dave.waitFor(pushOf('block', 'blocked.example'));
    expect((await blocklist()).sort()).toEqual(['blocked.example', user('erin').jid].sort());

    // The blocker cannot message the blocked (XEP-0191 section 3.6); the blocked party's messages stop.
    await dave.xmpp.send(
      xml(
        'message',
        { to: user('erin').jid, type: 'chat', id: 'to-blocked' },
        xml('body', {}, 'hi erin'),
      ),
    );
    const refused = await dave.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.type === 'error' && stanza.attrs.id === 'to-blocked',
    );
    expect(errorCondition(refused)).toBe('not-acceptable');
    expect(
      refused.getChild('error')!.getChild('blocked', 'urn:xmpp:blocking:errors'),
    ).toBeDefined();
    await sendMessage(server.url, user('erin').basic, user('dave').jid, 'erin is blocked');

    // One bad item: nothing of the request is stored.
    const bad = await dave.xmpp.iqCaller
      .request(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'block',
            { xmlns: BLOCKING },
            xml('item', { jid: user('frank').jid }),
            xml('item', { jid: 'two@at@signs.example' }),
          ),
        ),
        5000,
      )
      .then(
        () => 'accepted',
        (error: { condition?: string }) => error.condition,
      );
    expect(bad).toBe('jid-malformed');
    expect(await restList()).not.toContain(user('frank').jid);

    // XMPP unblocks one; REST unblocks the rest; then XMPP unblocks everything that is left.
    await dave.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set' },
        xml('unblock', { xmlns: BLOCKING }, xml('item', { jid: user('erin').jid })),
      ),
      5000,
    );
    expect(await restList()).toEqual(['blocked.example']);
    await dave.waitFor(pushOf('unblock', user('erin').jid));
    await unblocks.waitFor(1);
    await http(server.url, 'POST', '/api/blocking', {
      auth: user('dave').basic,
      json: { jid: user('gina').jid },
    });
    await dave.waitFor(pushOf('block', user('gina').jid));
    await dave.xmpp.iqCaller.request(
      xml('iq', { type: 'set' }, xml('unblock', { xmlns: BLOCKING })),
      5000,
    );
    expect(await restList()).toEqual([]);
    await dave.waitFor(pushOf('unblock', user('gina').jid));
    await dave.waitFor(pushOf('unblock', 'blocked.example'));
    expect(dave.stanzas.some(bodyMessage('erin is blocked'))).toBe(false);
    await dave.stop();
  });

  it('stores receipts and markers from XMPP as the REST markers, and renders markers set elsewhere', async () => {
    const frank = await online('frank', 'phone');
    const frankTablet = await online('frank', 'tablet');
    await enableCarbons(frankTablet);
    const gina = await online('gina', 'desk');
    const ginaSocket = await socketOf('gina');
    const ginaMarkers = new EventRecorder<MarkerView>(ginaSocket, 'marker');

    // Gina sends from XMPP with an origin-id; Frank reads it with the server's id.
    await gina.xmpp.send(
      xml(
        'message',
        { to: user('frank').jid, type: 'chat', id: 'gina-1' },
        xml('body', {}, 'please read'),
        xml('origin-id', { xmlns: STANZA_ID, id: 'gina-1' }),
      ),
    );
    const delivered = await frank.waitFor(bodyMessage('please read'));
    const id = delivered.attrs.id as string;
    expect(delivered.getChild('markable', MARKERS)).toBeDefined();
    expect(delivered.getChild('request', RECEIPTS)).toBeDefined();
    const unreadOf = async () =>
      (
        await http<InboxEntryView>(server.url, 'GET', `/api/inbox/chat/${user('gina').jid}`, {
          auth: user('frank').basic,
        })
      ).body.unread;
    expect(await unreadOf()).toBe(1);

    // A receipt: REST shows Frank received it; Gina's XMPP client hears it by her own id.
    await frank.xmpp.send(
      xml(
        'message',
        { to: user('gina').jid, type: 'chat' },
        xml('received', { xmlns: RECEIPTS, id }),
      ),
    );
    const receipt = await gina.waitFor(
      (stanza) => stanza.is('message') && stanza.getChild('received', RECEIPTS) !== undefined,
    );
    expect(receipt.getChild('received', RECEIPTS)!.attrs.id).toBe('gina-1');
    expect(receipt.attrs.from).toBe(user('frank').jid);
    const markers = await http<Record<string, string[]>>(
      server.url,
      'GET',
      `/api/messages/${id}/markers`,
      {
        auth: user('gina').basic,
      },
    );
    expect(markers.body.received).toEqual([user('frank').jid]);
    expect(markers.body.displayed).toEqual([]);

    // Displayed: the inbox unread drops to 0, Gina hears it on both doors, Frank's other device as a carbon.
    await frank.xmpp.send(
      xml(
        'message',
        { to: user('gina').jid, type: 'chat' },
        xml('displayed', { xmlns: MARKERS, id }),
      ),
    );
    const displayed = await gina.waitFor(
      (stanza) => stanza.is('message') && stanza.getChild('displayed', MARKERS) !== undefined,
    );
    expect(displayed.getChild('displayed', MARKERS)!.attrs.id).toBe('gina-1');
    await ginaMarkers.waitFor(2);
    expect(ginaMarkers.events.map((marker) => marker.type)).toEqual(['received', 'displayed']);
    expect(await unreadOf()).toBe(0);
    const copy = await frankTablet.waitFor(
      (stanza) => carbonInner(stanza, 'sent')?.getChild('displayed', MARKERS) !== undefined,
    );
    expect(carbonInner(copy, 'sent')!.getChild('displayed', MARKERS)!.attrs.id).toBe(id);
    await sync(frank);
    expect(frank.stanzas.some((stanza) => carbonInner(stanza, 'sent') !== undefined)).toBe(false);

    // A marker set over REST reaches the author's XMPP session as a stanza.
    const sent = await sendMessage(server.url, user('frank').basic, user('gina').jid, 'rest one');
    await gina.waitFor(bodyMessage('rest one'));
    const marked = await http(server.url, 'POST', `/api/messages/${sent.body.id}/markers`, {
      auth: user('gina').basic,
      json: { type: 'acknowledged' },
    });
    expect(marked.status).toBe(204);
    const ack = await frank.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.getChild('acknowledged', MARKERS)?.attrs.id === sent.body.id,
    );
    expect(ack.attrs.from).toBe(user('gina').jid);

    // A marker of an unknown message marks nothing and stores nothing.
    const before = (await conversation('frank', 'gina')).length;
    await frank.xmpp.send(
      xml(
        'message',
        { to: user('gina').jid, type: 'chat' },
        xml('displayed', { xmlns: MARKERS, id: '01890000-0000-7000-8000-000000000000' }),
      ),
    );
    await sync(frank);
    expect(await conversation('frank', 'gina')).toHaveLength(before);
    await Promise.all([frank.stop(), frankTablet.stop(), gina.stop()]);
  });

  it('relays every chat state live both ways and archives none', async () => {
    const hank = await online('hank', 'xmpp');
    const carol = await online('carol', 'xmpp');
    const carolSocket = await socketOf('carol');
    const typing = new EventRecorder<TypingView>(carolSocket, 'typing');
    const before = (await conversation('carol', 'hank')).length;
    for (const state of ['composing', 'paused', 'active', 'inactive', 'gone']) {
      await hank.xmpp.send(
        xml('message', { to: user('carol').jid, type: 'chat' }, xml(state, { xmlns: CHAT_STATES })),
      );
      await carol.waitFor(
        (stanza) =>
          stanza.is('message') &&
          stanza.attrs.from === `${user('hank').jid}/xmpp` &&
          stanza.getChild(state, CHAT_STATES) !== undefined,
      );
    }
    await typing.waitFor(5);
    expect(typing.events.map((event) => event.state)).toEqual([
      'composing',
      'paused',
      'active',
      'inactive',
      'gone',
    ]);
    const rest = await http(server.url, 'POST', '/api/typing', {
      auth: user('carol').basic,
      json: { to: user('hank').jid, state: 'composing' },
    });
    expect(rest.status).toBe(204);
    await hank.waitFor(
      (stanza) => stanza.is('message') && stanza.getChild('composing', CHAT_STATES) !== undefined,
    );
    expect(await conversation('carol', 'hank')).toHaveLength(before);
    await Promise.all([hank.stop(), carol.stop()]);
  });

  it('lets the author correct and retract over XMPP and refuses anyone else, with REST changes rendered back', async () => {
    const alice = await online('alice', 'editor');
    const aliceTablet = await online('alice', 'tablet');
    await enableCarbons(aliceTablet);
    const bob = await online('bob', 'reader');
    const bobSocket = await socketOf('bob');
    const edits = new EventRecorder<MessageView>(bobSocket, 'message:edited');

    await alice.xmpp.send(
      xml(
        'message',
        { to: user('bob').jid, type: 'chat', id: 'typo-1' },
        xml('body', {}, 'helo bob'),
        xml('origin-id', { xmlns: STANZA_ID, id: 'typo-1' }),
      ),
    );
    const original = await bob.waitFor(bodyMessage('helo bob'));
    const id = original.attrs.id as string;
    const count = (await conversation('bob', 'alice')).length;

    // The author corrects by her own id: both archives change, Bob hears it by the server's id.
    await alice.xmpp.send(
      xml(
        'message',
        { to: user('bob').jid, type: 'chat', id: 'fix-1' },
        xml('body', {}, 'hello bob'),
        xml('replace', { xmlns: CORRECT, id: 'typo-1' }),
      ),
    );
    const correction = await bob.waitFor(bodyMessage('hello bob'));
    expect(correction.getChild('replace', CORRECT)!.attrs.id).toBe(id);
    const [edited] = await edits.waitFor(1);
    expect(edited).toMatchObject({ id, body: 'hello bob', revision: 1 });
    const mine = (await conversation('alice', 'bob')).find((view) => view.id === id)!;
    expect(mine).toMatchObject({ body: 'hello bob', revision: 1 });
    expect(await conversation('bob', 'alice')).toHaveLength(count);
    const tabletCopy = await aliceTablet.waitFor(
      (stanza) => carbonInner(stanza, 'sent')?.getChild('replace', CORRECT) !== undefined,
    );
    expect(carbonInner(tabletCopy, 'sent')!.getChild('replace', CORRECT)!.attrs.id).toBe('typo-1');

    // Bob tries to correct Alice's message: forbidden, nothing stored, nothing delivered.
    await bob.xmpp.send(
      xml(
        'message',
        { to: user('alice').jid, type: 'chat', id: 'not-mine' },
        xml('body', {}, 'bob rewrites it'),
        xml('replace', { xmlns: CORRECT, id }),
      ),
    );
    const forbidden = await bob.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.type === 'error' && stanza.attrs.id === 'not-mine',
    );
    expect(errorCondition(forbidden)).toBe('forbidden');
    await bob.xmpp.send(
      xml(
        'message',
        { to: user('alice').jid, type: 'chat', id: 'no-such' },
        xml('body', {}, 'bob rewrites nothing'),
        xml('replace', { xmlns: CORRECT, id: 'never-sent' }),
      ),
    );
    const missing = await bob.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.type === 'error' && stanza.attrs.id === 'no-such',
    );
    expect(errorCondition(missing)).toBe('item-not-found');
    const aliceView = await conversation('alice', 'bob');
    expect(aliceView.find((view) => view.id === id)!.body).toBe('hello bob');
    expect(aliceView.some((view) => view.body.startsWith('bob rewrites'))).toBe(false);
    expect(await conversation('bob', 'alice')).toHaveLength(count);
    await sync(alice);
    expect(alice.stanzas.some((stanza) => stanza.toString().includes('bob rewrites'))).toBe(false);

    // A correction over REST reaches Bob's XMPP client as one.
    const put = await http(server.url, 'PUT', `/api/messages/${id}`, {
      auth: user('alice').basic,
      json: { body: 'hello again bob' },
    });
    expect(put.status).toBe(200);
    const restCorrection = await bob.waitFor(bodyMessage('hello again bob'));
    expect(restCorrection.getChild('replace', CORRECT)!.attrs.id).toBe(id);

    // The author retracts over XMPP (by the server's id): both archives keep the id without a body,
    // the fallback body is not stored as a message.
    await alice.xmpp.send(
      xml(
        'message',
        { to: user('bob').jid, type: 'chat', id: 'retract-1' },
        xml('retract', { xmlns: RETRACT, id }),
        xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: RETRACT }),
        xml('body', {}, 'This person attempted to retract a previous message'),
        xml('store', { xmlns: 'urn:xmpp:hints' }),
      ),
    );
    const retraction = await bob.waitFor(
      (stanza) => stanza.is('message') && stanza.getChild('retract', RETRACT)?.attrs.id === id,
    );
    expect(retraction.attrs.from).toBe(user('alice').jid);
    const afterRetract = await conversation('bob', 'alice');
    expect(afterRetract).toHaveLength(count);
    expect(afterRetract.find((view) => view.id === id)).toMatchObject({ body: '' });
    expect(afterRetract.find((view) => view.id === id)!.retracted_at).toBeTypeOf('number');
    await aliceTablet.waitFor(
      (stanza) => carbonInner(stanza, 'sent')?.getChild('retract', RETRACT)?.attrs.id === 'typo-1',
    );

    // A retraction over REST reaches Bob's XMPP client too; Bob cannot retract Alice's message.
    const second = await sendMessage(server.url, user('alice').basic, user('bob').jid, 'soon gone');
    await bob.waitFor(bodyMessage('soon gone'));
    await bob.xmpp.send(
      xml(
        'message',
        { to: user('alice').jid, type: 'chat', id: 'bob-retract' },
        xml('retract', { xmlns: RETRACT, id: second.body.id }),
      ),
    );
    const notHis = await bob.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.type === 'error' && stanza.attrs.id === 'bob-retract',
    );
    expect(errorCondition(notHis)).toBe('forbidden');
    expect(
      (await conversation('bob', 'alice')).find((view) => view.id === second.body.id)!.body,
    ).toBe('soon gone');
    expect(
      (
        await http(server.url, 'DELETE', `/api/messages/${second.body.id}`, {
          auth: user('alice').basic,
        })
      ).status,
    ).toBe(204);
    await bob.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.getChild('retract', RETRACT)?.attrs.id === second.body.id,
    );
    await Promise.all([alice.stop(), aliceTablet.stop(), bob.stop()]);
  });

  it('holds presence and chat states for an inactive client (CSI), never messages or IQs, and flushes in order', async () => {
    await befriend('erin', 'hank');
    const erin = await online('erin', 'phone');
    const hank = await online('hank', 'csi');
    await erin.waitFor(
      (stanza) => stanza.is('presence') && stanza.attrs.from === `${user('hank').jid}/csi`,
    );
    erin.stanzas.length = 0;

    await erin.xmpp.send(xml('inactive', { xmlns: CSI }));
    await sync(erin);
    for (const status of ['first', 'second']) {
      await hank.xmpp.send(xml('presence', {}, xml('status', {}, status)));
    }
    await sync(hank);
    const composing = await http(server.url, 'POST', '/api/typing', {
      auth: user('hank').basic,
      json: { to: user('erin').jid, state: 'composing' },
    });
    expect(composing.status).toBe(204);

    // A message goes straight through, and so does an IQ answer; presence and typing wait.
    await sendMessage(server.url, user('hank').basic, user('erin').jid, 'while inactive');
    await erin.waitFor(bodyMessage('while inactive'));
    await sync(erin);
    expect(erin.stanzas.filter((stanza) => stanza.is('presence'))).toEqual([]);
    expect(
      erin.stanzas.some((stanza) => stanza.getChild('composing', CHAT_STATES) !== undefined),
    ).toBe(false);
    await http(server.url, 'POST', '/api/typing', {
      auth: user('hank').basic,
      json: { to: user('erin').jid, state: 'paused' },
    });
    await sync(erin);
    expect(
      erin.stanzas.some((stanza) => stanza.getChild('paused', CHAT_STATES) !== undefined),
    ).toBe(false);

    // Active again: the newest presence per resource, then the typing that came after the message.
    await erin.xmpp.send(xml('active', { xmlns: CSI }));
    await erin.waitFor((stanza) => stanza.getChild('paused', CHAT_STATES) !== undefined);
    const flushed = erin.stanzas.filter(
      (stanza) =>
        stanza.is('presence') || (stanza.is('message') && stanza.getChildText('body') === null),
    );
    expect(
      flushed.map((stanza) =>
        stanza.is('presence') ? `presence ${stanza.getChildText('status')}` : 'paused',
      ),
    ).toEqual(['presence second', 'paused']);
    await Promise.all([erin.stop(), hank.stop()]);
  });
});
