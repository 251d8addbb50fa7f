import { xml } from '@xmpp/client';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import {
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { addMember, createRoom, type RoomDetails } from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

type Element = TestXmppClient['stanzas'][number];

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

function statusCodes(stanza: Element): number[] {
  return (stanza.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((status) =>
    Number(status.attrs.code),
  );
}

function itemOf(stanza: Element): Record<string, string> {
  return stanza.getChild('x', MUC_USER)?.getChild('item')?.attrs ?? {};
}

function errorCondition(stanza: Element): string | undefined {
  return stanza
    .getChild('error')
    ?.children.find((child): child is Element => typeof child !== 'string')?.name;
}

describe.skipIf(!servicesUp())('XMPP multi-user chat over the REST rooms (XEP-0045)', () => {
  let server: TestServer;
  const users = new Map<string, TestUser>();
  const clients: TestXmppClient[] = [];
  const sockets: Socket[] = [];
  const user = (name: string) => users.get(name)!;
  let room: string;
  let roomJid: string;

  beforeAll(async () => {
    server = await startTestServer();
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      users.set(name, await registerUser(server.url, server.domain, name));
    }
    room = await createRoom(
      server.url,
      user('alice').basic,
      { name: 'Team', subject: 'Plans' },
      'team',
    );
    roomJid = `${room}@muc.${server.domain}`;
    for (const name of ['bob', 'carol', 'erin']) {
      await addMember(server.url, user('alice').basic, room, user(name).jid);
    }
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await Promise.all(clients.map((client) => client.stop()));
    await server?.stop();
  });

  async function login(name: string, resource = 'xmpp'): Promise<TestXmppClient> {
    const client = await connectXmpp(server, user(name), { resource });
    clients.push(client);
    await client.xmpp.send(xml('presence'));

    return client;
  }

  function join(client: TestXmppClient, nick: string, history?: Record<string, string>) {
    return client.xmpp.send(
      xml(
        'presence',
        { to: `${roomJid}/${nick}` },
        xml('x', { xmlns: MUC }, ...(history === undefined ? [] : [xml('history', history)])),
      ),
    );
  }

  const presenceFrom = (nick: string, type?: string) => (stanza: Element) =>
    stanza.is('presence') &&
    stanza.attrs.from === `${roomJid}/${nick}` &&
    stanza.attrs.type === type;

  const groupchat = (body: string) => (stanza: Element) =>
    stanza.is('message') &&
    stanza.attrs.type === 'groupchat' &&
    stanza.getChildText('body') === body;

  let alice: TestXmppClient;
  let bob: TestXmppClient;
  let carolSocket: Socket;

  it('lists the service and the member’s rooms in service discovery, with exactly the room features', async () => {
    alice = await login('alice');
    const server_items = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: server.domain }, xml('query', { xmlns: DISCO_ITEMS })),
    );
    expect(
      server_items
        .getChild('query', DISCO_ITEMS)!
        .getChildren('item')
        .map((item: Element) => item.attrs.jid),
    ).toContain(`muc.${server.domain}`);

    const service = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: `muc.${server.domain}` }, xml('query', { xmlns: DISCO_INFO })),
    );
    const identity = service.getChild('query', DISCO_INFO)!.getChild('identity')!;
    expect([identity.attrs.category, identity.attrs.type]).toEqual(['conference', 'text']);

    const rooms = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: `muc.${server.domain}` }, xml('query', { xmlns: DISCO_ITEMS })),
    );
    expect(
      rooms
        .getChild('query', DISCO_ITEMS)!
        .getChildren('item')
        .map((item: Element) => [item.attrs.jid, item.attrs.name]),
    ).toEqual([[roomJid, 'Team']]);

    const info = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: roomJid }, xml('query', { xmlns: DISCO_INFO })),
    );
    const features = info
      .getChild('query', DISCO_INFO)!
      .getChildren('feature')
      .map((feature: Element) => feature.attrs.var as string);
    expect(features).toEqual(
      expect.arrayContaining([
        MUC,
        'muc_membersonly',
        'muc_persistent',
        'muc_nonanonymous',
        'muc_hidden',
        MAM,
      ]),
    );
    expect(features).not.toContain('muc_open');
    expect(features).not.toContain('muc_passwordprotected');
  });

  it('joins with a nickname: self-presence with 110, 100 and 170, owners as moderators, then the subject', async () => {
    await join(alice, 'Alice');
    const self = await alice.waitFor(presenceFrom('Alice'));
    expect(statusCodes(self).sort()).toEqual([100, 110, 170]);
    expect(itemOf(self)).toMatchObject({
      affiliation: 'owner',
      role: 'moderator',
      jid: user('alice').jid,
    });
    const subject = await alice.waitFor(
      (stanza) => stanza.is('message') && stanza.getChild('subject') !== undefined,
    );
    expect(subject.attrs.from).toBe(roomJid);
    expect(subject.getChildText('subject')).toBe('Plans');

    bob = await login('bob');
    await join(bob, 'Bob');
    // The occupant already there comes first, then the newcomer's own presence.
    const first = await bob.waitFor(presenceFrom('Alice'));
    const own = await bob.waitFor(presenceFrom('Bob'));
    expect(bob.stanzas.indexOf(first)).toBeLessThan(bob.stanzas.indexOf(own));
    expect(itemOf(own)).toMatchObject({ affiliation: 'member', role: 'participant' });
    expect(statusCodes(own)).toContain(110);
    const seen = await alice.waitFor(presenceFrom('Bob'));
    expect(statusCodes(seen)).not.toContain(110);
    expect(itemOf(seen).jid).toBe(user('bob').jid);
  });

  it('refuses a nickname someone else holds, and a non-member or a missing room alike', async () => {
    const erin = await login('erin');
    await join(erin, 'Bob');
    const conflict = await erin.waitFor(presenceFrom('Bob', 'error'));
    expect(errorCondition(conflict)).toBe('conflict');

    const dave = await login('dave');
    await dave.xmpp.send(xml('presence', { to: `${roomJid}/Dave` }, xml('x', { xmlns: MUC })));
    const refused = await dave.waitFor(presenceFrom('Dave', 'error'));
    expect(errorCondition(refused)).toBe('registration-required');
    await dave.xmpp.send(
      xml('presence', { to: `nothing-here@muc.${server.domain}/Dave` }, xml('x', { xmlns: MUC })),
    );
    const missing = await dave.waitFor(
      (stanza) =>
        stanza.is('presence') && stanza.attrs.from === `nothing-here@muc.${server.domain}/Dave`,
    );
    expect(errorCondition(missing)).toBe('registration-required');

    // Nor can a non-member read the archive or see the room.
    await expect(
      dave.xmpp.iqCaller.request(
        xml('iq', { type: 'set', to: roomJid }, xml('query', { xmlns: MAM })),
      ),
    ).rejects.toMatchObject({ condition: 'forbidden' });
    await expect(
      dave.xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: roomJid }, xml('query', { xmlns: DISCO_INFO })),
      ),
    ).rejects.toMatchObject({ condition: 'item-not-found' });
    const none = await dave.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: `muc.${server.domain}` }, xml('query', { xmlns: DISCO_ITEMS })),
    );
    expect(none.getChild('query', DISCO_ITEMS)!.getChildren('item')).toHaveLength(0);
    // Nothing reached the room from dave.
    expect(alice.stanzas.some(presenceFrom('Dave'))).toBe(false);
  });

  it('stores a groupchat message once and delivers it to occupants (with the room’s stanza-id) and socket.io members', async () => {
    carolSocket = await connectSocket(server.url, {
      token: await tokenFor(server.url, user('carol')),
    });
    sockets.push(carolSocket);
    const carolMessages = new EventRecorder<RoomMessageView>(carolSocket, 'room:message');

    await alice.xmpp.send(
      xml('message', { to: roomJid, type: 'groupchat', id: 'a-1' }, xml('body', {}, 'Hello room')),
    );
    const atBob = await bob.waitFor(groupchat('Hello room'));
    expect(atBob.attrs.from).toBe(`${roomJid}/Alice`);
    const stanzaId = atBob.getChild('stanza-id', 'urn:xmpp:sid:0')!;
    expect(stanzaId.attrs.by).toBe(roomJid);
    // The sender's copy keeps its id (XEP-0045 section 7.4) and carries the same stanza-id.
    const reflected = await alice.waitFor(groupchat('Hello room'));
    expect(reflected.attrs.id).toBe('a-1');
    expect(reflected.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id).toBe(stanzaId.attrs.id);

    const [atCarol] = await carolMessages.waitFor(1);
    expect(atCarol).toMatchObject({
      id: stanzaId.attrs.id,
      from: user('alice').jid,
      body: 'Hello room',
    });
    const archive = await http<RoomMessageView[]>(
      server.url,
      'GET',
      `/api/rooms/${room}/messages`,
      {
        auth: user('carol').basic,
      },
    );
    expect(archive.body.filter((entry) => entry.body === 'Hello room')).toHaveLength(1);
  });

  it('delivers what a REST member posts to the occupants, under the member’s bare JID', async () => {
    const posted = await http<{ id: string }>(server.url, 'POST', `/api/rooms/${room}/messages`, {
      auth: user('carol').basic,
      json: { body: 'From REST' },
    });
    expect(posted.status).toBe(200);
    const atAlice = await alice.waitFor(groupchat('From REST'));
    expect(atAlice.attrs.from).toBe(`${roomJid}/${user('carol').jid}`);
    expect(atAlice.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id).toBe(posted.body.id);
    await bob.waitFor(groupchat('From REST'));
    // A non-occupant cannot post over XMPP.
    const erin = clients.find((client) => client.jid.startsWith(user('erin').jid))!;
    await erin.xmpp.send(
      xml('message', { to: roomJid, type: 'groupchat', id: 'e-1' }, xml('body', {}, 'sneaky')),
    );
    const refused = await erin.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.id === 'e-1' && stanza.attrs.type === 'error',
    );
    expect(errorCondition(refused)).toBe('not-acceptable');
  });

  it('changes the subject under the room’s permissions', async () => {
    await bob.xmpp.send(
      xml('message', { to: roomJid, type: 'groupchat', id: 's-1' }, xml('subject', {}, 'Mine')),
    );
    const refused = await bob.waitFor(
      (stanza) =>
        stanza.is('message') && stanza.attrs.id === 's-1' && stanza.attrs.type === 'error',
    );
    expect(errorCondition(refused)).toBe('forbidden');

    await alice.xmpp.send(
      xml('message', { to: roomJid, type: 'groupchat' }, xml('subject', {}, 'Launch')),
    );
    const changed = await bob.waitFor(
      (stanza) => stanza.is('message') && stanza.getChildText('subject') === 'Launch',
    );
    expect(changed.attrs.from).toBe(`${roomJid}/Alice`);
    const details = await http<RoomDetails>(server.url, 'GET', `/api/rooms/${room}`, {
      auth: user('carol').basic,
    });
    expect(details.body.subject).toBe('Launch');
  });

  it('changes a nickname with 303 and the new nickname, and the messages follow it', async () => {
    await bob.xmpp.send(xml('presence', { to: `${roomJid}/Robert` }));
    const old = await alice.waitFor(presenceFrom('Bob', 'unavailable'));
    expect(statusCodes(old)).toEqual([303]);
    expect(itemOf(old).nick).toBe('Robert');
    await alice.waitFor(presenceFrom('Robert'));
    const own = await bob.waitFor(presenceFrom('Bob', 'unavailable'));
    expect(statusCodes(own).sort()).toEqual([110, 303]);
    // A nickname someone else holds stays theirs.
    await bob.xmpp.send(xml('presence', { to: `${roomJid}/Alice` }));
    const taken = await bob.waitFor(presenceFrom('Alice', 'error'));
    expect(errorCondition(taken)).toBe('conflict');

    await bob.xmpp.send(
      xml('message', { to: roomJid, type: 'groupchat' }, xml('body', {}, 'as Robert')),
    );
    expect((await alice.waitFor(groupchat('as Robert'))).attrs.from).toBe(`${roomJid}/Robert`);
    await bob.xmpp.send(xml('presence', { to: `${roomJid}/Bob` }));
    await alice.waitFor(presenceFrom('Robert', 'unavailable'));
    await alice.waitFor(
      (stanza) =>
        presenceFrom('Bob')(stanza) && alice.stanzas.indexOf(stanza) > alice.stanzas.indexOf(old),
    );
    // Later tests look for Bob's next departures.
    alice.stanzas.length = 0;
    bob.stanzas.length = 0;
  });

  it('sends history on join as asked, and pages the room archive over MAM with the REST ids', async () => {
    for (const body of ['one', 'two', 'three']) {
      await http(server.url, 'POST', `/api/rooms/${room}/messages`, {
        auth: user('carol').basic,
        json: { body },
      });
    }
    const erin = clients.find((client) => client.jid.startsWith(user('erin').jid))!;
    await join(erin, 'Erin', { maxstanzas: '2' });
    await erin.waitFor(presenceFrom('Erin'));
    const subject = await erin.waitFor(
      (stanza) => stanza.is('message') && stanza.getChildText('subject') === 'Launch',
    );
    const history = erin.stanzas.filter(
      (stanza) => stanza.is('message') && stanza.getChild('delay', 'urn:xmpp:delay') !== undefined,
    );
    expect(history.map((stanza) => stanza.getChildText('body'))).toEqual(['two', 'three']);
    expect(erin.stanzas.indexOf(history[1]!)).toBeLessThan(erin.stanzas.indexOf(subject));

    const dave = await login('dave', 'second');
    await dave.xmpp.send(xml('presence', { to: `${roomJid}/Dave` }, xml('x', { xmlns: MUC })));
    await dave.waitFor(presenceFrom('Dave', 'error'));

    const rest = await http<RoomMessageView[]>(server.url, 'GET', `/api/rooms/${room}/messages`, {
      auth: user('bob').basic,
    });
    const messageIds = rest.body
      .filter((entry) => entry.kind === 'message')
      .map((entry) => entry.id);
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const queryid = `q${page}`;
      const fin = await bob.xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'set', to: roomJid },
          xml(
            'query',
            { xmlns: MAM, queryid },
            xml(
              'set',
              { xmlns: RSM },
              xml('max', {}, '2'),
              ...(after === undefined ? [] : [xml('after', {}, after)]),
            ),
          ),
        ),
      );
      const results = bob.stanzas.filter(
        (stanza) => stanza.getChild('result', MAM)?.attrs.queryid === queryid,
      );
      for (const result of results) {
        const forwarded = result
          .getChild('result', MAM)!
          .getChild('forwarded', 'urn:xmpp:forward:0')!;
        const inner = forwarded.getChild('message')!;
        expect(inner.attrs.type).toBe('groupchat');
        expect(inner.attrs.from.startsWith(`${roomJid}/`)).toBe(true);
        seen.push(result.getChild('result', MAM)!.attrs.id as string);
      }
      const done = fin.getChild('fin', MAM)!;
      if (done.attrs.complete === 'true') {
        break;
      }
      after = done.getChild('set', RSM)!.getChildText('last')!;
    }
    expect(seen).toEqual(messageIds);
  });

  it('lists owners and members, and removing a member over muc#admin expels their occupant with 321', async () => {
    const owners = await bob.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'get', to: roomJid },
        xml('query', { xmlns: MUC_ADMIN }, xml('item', { affiliation: 'owner' })),
      ),
    );
    expect(
      owners
        .getChild('query', MUC_ADMIN)!
        .getChildren('item')
        .map((item: Element) => item.attrs.jid),
    ).toEqual([user('alice').jid]);

    // A member may not remove others under the default settings.
    await expect(
      bob.xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'set', to: roomJid },
          xml(
            'query',
            { xmlns: MUC_ADMIN },
            xml('item', { affiliation: 'none', jid: user('erin').jid }),
          ),
        ),
      ),
    ).rejects.toMatchObject({ condition: 'forbidden' });

    await alice.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set', to: roomJid },
        xml(
          'query',
          { xmlns: MUC_ADMIN },
          xml('item', { affiliation: 'none', jid: user('bob').jid }),
        ),
      ),
    );
    const expelled = await bob.waitFor(presenceFrom('Bob', 'unavailable'));
    expect(statusCodes(expelled).sort()).toEqual([110, 321]);
    expect(itemOf(expelled)).toMatchObject({ affiliation: 'none', role: 'none' });
    const seen = await alice.waitFor(presenceFrom('Bob', 'unavailable'));
    expect(statusCodes(seen)).toEqual([321]);
    const details = await http<RoomDetails>(server.url, 'GET', `/api/rooms/${room}`, {
      auth: user('alice').basic,
    });
    expect(details.body.participants.map((p) => p.user)).not.toContain(user('bob').jid);

    // Added back over XMPP, bob can join again.
    await alice.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set', to: roomJid },
        xml(
          'query',
          { xmlns: MUC_ADMIN },
          xml('item', { affiliation: 'member', jid: user('bob').jid }),
        ),
      ),
    );
    bob.stanzas.length = 0;
    await join(bob, 'Bob');
    await bob.waitFor(presenceFrom('Bob'));
  });

  it('expels an occupant removed over REST, tells the others when one leaves, and destroys the room for everyone', async () => {
    const erin = clients.find((client) => client.jid.startsWith(user('erin').jid))!;
    const removed = await http(
      server.url,
      'DELETE',
      `/api/rooms/${room}/users/${user('erin').jid}`,
      {
        auth: user('alice').basic,
      },
    );
    expect(removed.status).toBe(204);
    const expelled = await erin.waitFor(presenceFrom('Erin', 'unavailable'));
    expect(statusCodes(expelled)).toContain(321);
    await alice.waitFor(presenceFrom('Erin', 'unavailable'));

    await bob.xmpp.send(xml('presence', { to: `${roomJid}/Bob`, type: 'unavailable' }));
    const left = await bob.waitFor(presenceFrom('Bob', 'unavailable'));
    expect(statusCodes(left)).toEqual([110]);
    const gone = await alice.waitFor(
      (stanza) => presenceFrom('Bob', 'unavailable')(stanza) && statusCodes(stanza).length === 0,
    );
    expect(itemOf(gone).role).toBe('none');

    const destroyed = await http(server.url, 'DELETE', `/api/rooms/${room}`, {
      auth: user('alice').basic,
    });
    expect(destroyed.status).toBe(204);
    const end = await alice.waitFor(presenceFrom('Alice', 'unavailable'));
    expect(end.getChild('x', MUC_USER)!.getChild('destroy')).toBeDefined();
  });
});
