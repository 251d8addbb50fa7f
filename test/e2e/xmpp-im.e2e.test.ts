import { xml } from '@xmpp/client';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ContactView } from '#src/contacts/contact-view.js';
import type { PresenceView } from '#src/presence/presence-view.js';
import {
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

type Element = TestXmppClient['stanzas'][number];

const ROSTER = 'jabber:iq:roster';

/** Waits, with a bound, until a recorder holds an event matching `match`. */
async function eventMatching<T>(recorder: EventRecorder<T>, match: (event: T) => boolean) {
  for (let count = 1; count <= 50; count += 1) {
    await recorder.waitFor(count);
    const found = recorder.events.find(match);
    if (found !== undefined) {
      return found;
    }
  }
  throw new Error('no matching event');
}

function rosterPushOf(stanza: Element, jid: string): Element | undefined {
  if (!stanza.is('iq') || stanza.attrs.type !== 'set') {
    return undefined;
  }
  const item = stanza.getChild('query', ROSTER)?.getChild('item');

  return item?.attrs.jid === jid ? item : undefined;
}

describe.skipIf(!servicesUp())(
  'XMPP roster and presence over the contacts and presence services',
  () => {
    let server: TestServer;
    const users = new Map<string, TestUser>();
    const clients: TestXmppClient[] = [];
    const sockets: Socket[] = [];

    const user = (name: string) => users.get(name)!;
    const restRoster = async (name: string) =>
      (await http<ContactView[]>(server.url, 'GET', '/api/contacts', { auth: user(name).basic }))
        .body;
    const act = (name: string, other: string, action: string) =>
      http<ContactView>(server.url, 'PUT', `/api/contacts/${user(other).jid}`, {
        auth: user(name).basic,
        json: { action },
      });

    beforeAll(async () => {
      server = await startTestServer();
      for (const name of [
        'alice',
        'bob',
        'carol',
        'dave',
        'erin',
        'frank',
        'gina',
        'hank',
        'ivy',
        'jack',
      ]) {
        users.set(name, await registerUser(server.url, server.domain, name));
      }
    });

    afterAll(async () => {
      sockets.forEach((socket) => socket.disconnect());
      await Promise.all(clients.map((client) => client.stop()));
      await server?.stop();
    });

    async function login(name: string, resource = 'xmpp') {
      const client = await connectXmpp(server, user(name), { resource });
      clients.push(client);

      return client;
    }

    async function socketOf(name: string, resource = 'app') {
      const socket = await connectSocket(server.url, {
        token: await tokenFor(server.url, user(name)),
        resource,
      });
      sockets.push(socket);

      return socket;
    }

    async function rosterGet(client: TestXmppClient): Promise<Element[]> {
      const result = await client.xmpp.iqCaller.request(
        xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })),
        5000,
      );

      return result.getChild('query', ROSTER)!.getChildren('item');
    }

    /** Mutual subscription set up over REST, both ways accepted. */
    async function befriend(a: string, b: string): Promise<void> {
      expect((await act(a, b, 'invite')).status).toBe(200);
      expect((await act(b, a, 'accept')).status).toBe(200);
      expect((await act(b, a, 'invite')).status).toBe(200);
      expect((await act(a, b, 'accept')).status).toBe(200);
    }

    it('shows a REST contact in the XMPP roster, and an XMPP roster set over REST and socket.io, with pushes both ways', async () => {
      const added = await http(server.url, 'POST', '/api/contacts', {
        auth: user('alice').basic,
        json: { jid: user('bob').jid, name: 'Bob', groups: ['Friends'] },
      });
      expect(added.status).toBe(201);
      const alice = await login('alice');
      const socket = await socketOf('alice');
      const contacts = new EventRecorder<ContactView>(socket, 'contact');
      const removed = new EventRecorder<{ jid: string }>(socket, 'contact:removed');

      const items = await rosterGet(alice);
      expect(
        items.map((item) => [item.attrs.jid, item.attrs.name, item.attrs.subscription]),
      ).toEqual([[user('bob').jid, 'Bob', 'none']]);
      expect(items[0]!.getChildText('group')).toBe('Friends');

      // XMPP set: over REST and pushed to socket.io and to the XMPP session itself.
      await alice.xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'query',
            { xmlns: ROSTER },
            xml('item', { jid: user('carol').jid, name: 'Carol' }, xml('group', {}, 'Work')),
          ),
        ),
        5000,
      );
      expect((await restRoster('alice')).find((item) => item.jid === user('carol').jid)).toEqual({
        jid: user('carol').jid,
        subscription: 'none',
        ask: 'none',
        name: 'Carol',
        groups: ['Work'],
      });
      await eventMatching(contacts, (view) => view.jid === user('carol').jid);
      const push = await alice.waitFor(
        (stanza) => rosterPushOf(stanza, user('carol').jid) !== undefined,
      );
      expect(rosterPushOf(push, user('carol').jid)!.attrs.name).toBe('Carol');

      // REST change: pushed to the XMPP session as a roster push.
      await http(server.url, 'PATCH', `/api/contacts/${user('bob').jid}`, {
        auth: user('alice').basic,
        json: { name: 'Bobby' },
      });
      await alice.waitFor(
        (stanza) => rosterPushOf(stanza, user('bob').jid)?.attrs.name === 'Bobby',
      );

      // XMPP remove: gone from REST, and socket.io hears contact:removed.
      await alice.xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'query',
            { xmlns: ROSTER },
            xml('item', { jid: user('carol').jid, subscription: 'remove' }),
          ),
        ),
        5000,
      );
      await eventMatching(removed, (event) => event.jid === user('carol').jid);
      expect((await restRoster('alice')).map((item) => item.jid)).toEqual([user('bob').jid]);
      await alice.waitFor(
        (stanza) => rosterPushOf(stanza, user('carol').jid)?.attrs.subscription === 'remove',
      );
    });

    it('refuses bad roster sets with the RFC 6121 errors and changes nothing', async () => {
      const alice = clients[0]!;
      const attempt = (item: ReturnType<typeof xml>) =>
        alice.xmpp.iqCaller
          .request(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, item)), 5000)
          .then(
            () => 'result',
            (error: { condition?: string }) => error.condition,
          );

      expect(await attempt(xml('item', { jid: user('dave').jid }, xml('group', {}, '')))).toBe(
        'not-acceptable',
      );
      expect(await attempt(xml('item', { jid: user('dave').jid, subscription: 'both' }))).toBe(
        'bad-request',
      );
      expect(await attempt(xml('item', { jid: 'not a jid@@' }))).toBe('jid-malformed');
      expect(await attempt(xml('item', { jid: user('dave').jid, subscription: 'remove' }))).toBe(
        'item-not-found',
      );
      expect((await restRoster('alice')).map((item) => item.jid)).toEqual([user('bob').jid]);
    });

    it('runs the full subscription flow from an XMPP client against a REST and socket.io user', async () => {
      const carol = await login('carol');
      await rosterGet(carol);
      await carol.xmpp.send(xml('presence'));
      const daveSocket = await socketOf('dave');
      const daveContacts = new EventRecorder<ContactView>(daveSocket, 'contact');
      const daveRequests = new EventRecorder<{ from: string; type: string }>(
        daveSocket,
        'subscription',
      );
      const davePresence = new EventRecorder<PresenceView>(daveSocket, 'presence');

      await carol.xmpp.send(xml('presence', { to: user('dave').jid, type: 'subscribe' }));
      await eventMatching(
        daveRequests,
        (event) => event.from === user('carol').jid && event.type === 'subscribe',
      );
      await eventMatching(
        daveContacts,
        (view) => view.jid === user('carol').jid && view.ask === 'in',
      );
      await carol.waitFor(
        (stanza) => rosterPushOf(stanza, user('dave').jid)?.attrs.ask === 'subscribe',
      );

      // Dave accepts over REST: Carol's client hears subscribed, the roster push and Dave's presence.
      expect((await act('dave', 'carol', 'accept')).body.subscription).toBe('from');
      await carol.waitFor(
        (stanza) =>
          stanza.is('presence') &&
          stanza.attrs.type === 'subscribed' &&
          stanza.attrs.from === user('dave').jid,
      );
      await carol.waitFor(
        (stanza) => rosterPushOf(stanza, user('dave').jid)?.attrs.subscription === 'to',
      );
      await carol.waitFor(
        (stanza) => stanza.is('presence') && stanza.attrs.from === `${user('dave').jid}/app`,
      );

      // Dave asks back over REST; Carol approves from XMPP; both rosters read `both`.
      await act('dave', 'carol', 'invite');
      await carol.waitFor(
        (stanza) =>
          stanza.is('presence') &&
          stanza.attrs.type === 'subscribe' &&
          stanza.attrs.from === user('dave').jid,
      );
      await carol.xmpp.send(xml('presence', { to: user('dave').jid, type: 'subscribed' }));
      await eventMatching(
        daveContacts,
        (view) => view.jid === user('carol').jid && view.subscription === 'both',
      );
      expect(
        (await restRoster('carol')).find((item) => item.jid === user('dave').jid),
      ).toMatchObject({
        subscription: 'both',
        ask: 'none',
      });
      expect(
        (await restRoster('dave')).find((item) => item.jid === user('carol').jid),
      ).toMatchObject({
        subscription: 'both',
        ask: 'none',
      });
      // Now subscribed, Dave sees Carol's presence.
      await eventMatching(
        davePresence,
        (view) =>
          view.jid === user('carol').jid && view.resources.some((r) => r.resource === 'xmpp'),
      );

      // Carol unsubscribes from XMPP: Dave's side becomes `to`, and Carol's `from`.
      await carol.xmpp.send(xml('presence', { to: user('dave').jid, type: 'unsubscribe' }));
      await eventMatching(daveRequests, (event) => event.type === 'unsubscribe');
      await eventMatching(
        daveContacts,
        (view) => view.jid === user('carol').jid && view.subscription === 'to',
      );
      expect(
        (await restRoster('carol')).find((item) => item.jid === user('dave').jid)?.subscription,
      ).toBe('from');
    });

    it('carries presence between an XMPP user and a socket.io user, both ways, and unavailable on disconnect', async () => {
      await befriend('erin', 'frank');
      const frankSocket = await socketOf('frank');
      const frankPresence = new EventRecorder<PresenceView>(frankSocket, 'presence');
      const erin = await login('erin', 'laptop');

      // Bound but without initial presence, Erin is not available to Frank.
      expect(
        frankPresence.events.filter(
          (view) => view.jid === user('erin').jid && view.show !== 'offline',
        ),
      ).toEqual([]);
      await erin.xmpp.send(
        xml(
          'presence',
          {},
          xml('show', {}, 'away'),
          xml('status', {}, 'at lunch'),
          xml('priority', {}, '5'),
        ),
      );
      const seen = await eventMatching(
        frankPresence,
        (view) => view.jid === user('erin').jid && view.show === 'away',
      );
      expect(seen.resources).toEqual([
        {
          resource: 'laptop',
          show: 'away',
          status: 'at lunch',
          // What REST has no field for comes as the XMPP elements.
          extensions: [{ name: 'priority', ns: 'jabber:client', attrs: {}, children: ['5'] }],
        },
      ]);
      // Initial presence: Frank's socket.io session is online, and Erin hears its own presence too.
      await erin.waitFor(
        (stanza) => stanza.is('presence') && stanza.attrs.from === `${user('frank').jid}/app`,
      );
      await erin.waitFor(
        (stanza) => stanza.is('presence') && stanza.attrs.from === `${user('erin').jid}/laptop`,
      );

      const ack = await frankSocket.emitWithAck('presence:set', { show: 'dnd', status: 'busy' });
      expect(ack).toMatchObject({ jid: user('frank').jid, show: 'dnd' });
      const dnd = await erin.waitFor(
        (stanza) =>
          stanza.is('presence') &&
          stanza.attrs.from === `${user('frank').jid}/app` &&
          stanza.getChildText('show') === 'dnd',
      );
      expect(dnd.getChildText('status')).toBe('busy');

      // REST sees the XMPP session's presence.
      const rest = await http<PresenceView[]>(server.url, 'GET', '/api/presence', {
        auth: user('frank').basic,
      });
      expect(rest.body.find((view) => view.jid === user('erin').jid)).toMatchObject({
        show: 'away',
        status: 'at lunch',
      });

      // Frank goes: Erin's client gets unavailable from that resource.
      frankSocket.disconnect();
      await erin.waitFor(
        (stanza) =>
          stanza.is('presence') &&
          stanza.attrs.from === `${user('frank').jid}/app` &&
          stanza.attrs.type === 'unavailable',
      );

      // Erin goes: a fresh socket.io session of Frank's hears offline.
      const frankAgain = await socketOf('frank', 'second');
      const again = new EventRecorder<PresenceView>(frankAgain, 'presence');
      await eventMatching(again, (view) => view.jid === user('erin').jid && view.show === 'away');
      await erin.stop();
      await eventMatching(
        again,
        (view) => view.jid === user('erin').jid && view.show === 'offline',
      );
    });

    it('answers a probe with every available resource, or unavailable from the bare JID when none is', async () => {
      await befriend('gina', 'hank');
      const gina = await login('gina', 'desk');
      await gina.xmpp.send(xml('presence'));
      await gina.waitFor(
        (stanza) => stanza.is('presence') && stanza.attrs.from === `${user('gina').jid}/desk`,
      );
      const hank = user('hank').jid;

      // RFC 6121 section 4.3.2: a contact with no available resource answers unavailable.
      await gina.xmpp.send(xml('presence', { to: hank, type: 'probe' }));
      const offline = await gina.waitFor(
        (stanza) => stanza.is('presence') && stanza.attrs.from === hank,
      );
      expect(offline.attrs.type).toBe('unavailable');

      // Online, the probe is answered even though Gina already heard this very presence.
      await socketOf('hank');
      const online = (stanza: Element) =>
        stanza.is('presence') &&
        stanza.attrs.from === `${hank}/app` &&
        stanza.attrs.type === undefined;
      await gina.waitFor(online);
      const from = gina.stanzas.length;
      await gina.xmpp.send(xml('presence', { to: hank, type: 'probe' }));
      await gina.waitFor((stanza) => online(stanza) && gina.stanzas.indexOf(stanza) >= from);
    });

    it('passes a presence on as sent to XMPP contacts: priority, show chat, capabilities, avatar hash', async () => {
      await befriend('ivy', 'jack');
      const jack = await login('jack', 'watch');
      await jack.xmpp.send(xml('presence'));
      const ivy = await login('ivy', 'phone');
      const caps = {
        xmlns: 'http://jabber.org/protocol/caps',
        hash: 'sha-1',
        node: 'https://client.example',
        ver: 'q07IKJEyjvHSyhy//CH0CxmKi8w=',
      };
      await ivy.xmpp.send(
        xml(
          'presence',
          {},
          xml('show', {}, 'chat'),
          xml('status', {}, 'free'),
          xml('priority', {}, '7'),
          xml('c', caps),
          xml('x', { xmlns: 'vcard-temp:x:update' }, xml('photo', {}, 'abc123')),
          // A prefixed attribute the server cannot declare again: left out, not sent broken.
          xml('y:foo', { 'xmlns:y': 'urn:prefixed', 'y:attr': '1' }),
        ),
      );

      const seen = await jack.waitFor(
        (stanza) => stanza.is('presence') && stanza.attrs.from === `${user('ivy').jid}/phone`,
      );
      expect(seen.getChildText('show')).toBe('chat');
      expect(seen.getChildText('status')).toBe('free');
      expect(seen.getChildText('priority')).toBe('7');
      expect(seen.getChild('c', caps.xmlns)?.attrs).toMatchObject({
        ver: caps.ver,
        node: caps.node,
      });
      expect(seen.getChild('x', 'vcard-temp:x:update')?.getChildText('photo')).toBe('abc123');
      expect(seen.toString()).not.toContain('urn:prefixed');

      // REST sees show online (chat has no REST value) and the extensions as element trees.
      const rest = await http<PresenceView[]>(server.url, 'GET', '/api/presence', {
        auth: user('jack').basic,
      });
      const resource = rest.body.find((view) => view.jid === user('ivy').jid)!.resources[0]!;
      expect(resource).toMatchObject({ resource: 'phone', show: 'online', status: 'free' });
      expect(resource.extensions?.map((child) => child.name)).toEqual([
        'show',
        'c',
        'x',
        'priority',
      ]);

      // A presence without them says so: the next one carries none.
      // Section 4.7.2.3: a priority out of range counts as 0, and is passed on as none.
      await ivy.xmpp.send(xml('presence', {}, xml('show', {}, 'away'), xml('priority', {}, '999')));
      const away = await jack.waitFor(
        (stanza) =>
          stanza.is('presence') &&
          stanza.attrs.from === `${user('ivy').jid}/phone` &&
          stanza.getChildText('show') === 'away',
      );
      expect(away.getChild('c', caps.xmlns)).toBeUndefined();
      expect(away.getChild('priority')).toBeUndefined();

      // Presence set over REST for all of Ivy's sessions leaves the XMPP one, which its client sets.
      await socketOf('ivy');
      const everywhere = await http<PresenceView>(server.url, 'PUT', '/api/presence', {
        auth: user('ivy').basic,
        json: { show: 'dnd' },
      });
      expect(everywhere.status).toBe(200);
      expect(
        Object.fromEntries(everywhere.body.resources.map((item) => [item.resource, item.show])),
      ).toEqual({ phone: 'away', app: 'dnd' });
    });

    it('routes directed presence, typing as chat states, and respects blocking', async () => {
      const bobSocket = await socketOf('bob');
      const bobPresence = new EventRecorder<PresenceView>(bobSocket, 'presence');
      const bobTyping = new EventRecorder<{ from: string; state: string }>(bobSocket, 'typing');
      const alice = clients[0]!;
      await alice.xmpp.send(xml('presence'));

      // No subscription between them: directed presence only.
      await alice.xmpp.send(xml('presence', { to: user('bob').jid }, xml('show', {}, 'xa')));
      const directed = await eventMatching(bobPresence, (view) => view.jid === user('alice').jid);
      // Alice's socket.io session (first test) is online too; the XMPP resource carries the directed show.
      expect(directed.resources.find((item) => item.resource === 'xmpp')?.show).toBe('xa');

      await alice.xmpp.send(
        xml(
          'message',
          { to: user('bob').jid, type: 'chat' },
          xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
        ),
      );
      await eventMatching(
        bobTyping,
        (event) => event.from === user('alice').jid && event.state === 'composing',
      );
      await bobSocket.emitWithAck('typing', { to: user('alice').jid, state: 'paused' });
      await alice.waitFor(
        (stanza) =>
          stanza.is('message') &&
          stanza.attrs.from === user('bob').jid &&
          stanza.getChild('paused', 'http://jabber.org/protocol/chatstates') !== undefined,
      );

      // Alice blocks Bob over REST: her subscription request and directed presence to him are refused.
      expect(
        (
          await http(server.url, 'POST', '/api/blocking', {
            auth: user('alice').basic,
            json: { jid: user('bob').jid },
          })
        ).status,
      ).toBe(201);
      await alice.xmpp.send(
        xml('presence', { to: user('bob').jid, type: 'subscribe', id: 'blocked-sub' }),
      );
      const refused = await alice.waitFor(
        (stanza) =>
          stanza.is('presence') &&
          stanza.attrs.id === 'blocked-sub' &&
          stanza.attrs.type === 'error',
      );
      expect(refused.getChild('error')?.getChild('not-acceptable')).toBeDefined();
      expect(
        refused.getChild('error')?.getChild('blocked', 'urn:xmpp:blocking:errors'),
      ).toBeDefined();
      expect(
        (await restRoster('bob')).find((item) => item.jid === user('alice').jid),
      ).toBeUndefined();
    });
  },
);
