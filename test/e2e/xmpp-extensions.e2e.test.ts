import { readFileSync } from 'node:fs';

import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { InboxEntryView } from '#src/inbox/inbox-view.js';
import type { ProfileView } from '#src/profiles/profile-view.js';
import { http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

type Element = TestXmppClient['stanzas'][number];

const NS = {
  discoInfo: 'http://jabber.org/protocol/disco#info',
  vcard: 'vcard-temp',
  last: 'jabber:iq:last',
  time: 'urn:xmpp:time',
  version: 'jabber:iq:version',
  private: 'jabber:iq:private',
  inbox: 'urn:relay:inbox:0',
  rsm: 'http://jabber.org/protocol/rsm',
  bookmarks: 'storage:bookmarks',
};

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

describe.skipIf(!servicesUp())(
  'XMPP extensions: inbox, vCard, last activity, time, version, private storage',
  () => {
    let server: TestServer;
    const users = new Map<string, TestUser>();
    const clients: TestXmppClient[] = [];
    const user = (name: string) => users.get(name)!;

    beforeAll(async () => {
      server = await startTestServer();
      for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
        users.set(name, await registerUser(server.url, server.domain, name));
      }
    });

    afterAll(async () => {
      await Promise.all(clients.map((client) => client.stop()));
      await server?.stop();
    });

    async function login(name: string, resource = 'xmpp') {
      const client = await connectXmpp(server, user(name), { resource });
      clients.push(client);

      return client;
    }

    /** An IQ's result, or the error condition it got. */
    async function iq(
      client: TestXmppClient,
      type: 'get' | 'set',
      payload: Element,
      to?: string,
    ): Promise<Element> {
      return client.xmpp.iqCaller.request(
        xml('iq', { type, ...(to ? { to } : {}) }, payload),
        5000,
      );
    }

    async function conditionOf(promise: Promise<unknown>): Promise<string> {
      return promise.then(
        () => 'result',
        (error: Error & { condition?: string }) => error.condition ?? error.message,
      );
    }

    const act = (name: string, other: string, action: string) =>
      http(server.url, 'PUT', `/api/contacts/${user(other).jid}`, {
        auth: user(name).basic,
        json: { action },
      });

    it('lists in disco#info exactly the extensions it answers', async () => {
      const alice = await login('alice');
      const info = await iq(alice, 'get', xml('query', { xmlns: NS.discoInfo }), server.domain);
      const features = info
        .getChild('query', NS.discoInfo)!
        .getChildren('feature')
        .map((feature) => feature.attrs.var as string);
      expect(features).toEqual(
        expect.arrayContaining([NS.vcard, NS.last, NS.time, NS.version, NS.private, NS.inbox]),
      );
      const account = await iq(
        alice,
        'get',
        xml('query', { xmlns: NS.discoInfo }),
        user('bob').jid,
      );
      const accountFeatures = account
        .getChild('query', NS.discoInfo)!
        .getChildren('feature')
        .map((feature) => feature.attrs.var as string);
      expect(accountFeatures).toEqual(expect.arrayContaining([NS.vcard, NS.last]));
      expect(accountFeatures).not.toContain(NS.private);
      expect(accountFeatures).not.toContain(NS.inbox);
    });

    it('answers entity time and software version for the server, and not for an account', async () => {
      const alice = clients[0]!;
      const before = Date.now();
      const time = (
        await iq(alice, 'get', xml('time', { xmlns: NS.time }), server.domain)
      ).getChild('time', NS.time)!;
      expect(time.getChildText('tzo')).toMatch(/^[+-]\d{2}:\d{2}$/);
      const utc = time.getChildText('utc')!;
      expect(utc).toMatch(/Z$/);
      expect(Date.parse(utc)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(utc)).toBeLessThanOrEqual(Date.now() + 1000);

      const version = (
        await iq(alice, 'get', xml('query', { xmlns: NS.version }), server.domain)
      ).getChild('query', NS.version)!;
      expect(version.getChildText('name')).toBe('relay');
      expect(version.getChildText('version')).toBe(VERSION);

      expect(
        await conditionOf(iq(alice, 'get', xml('time', { xmlns: NS.time }), user('bob').jid)),
      ).toBe('service-unavailable');
      expect(
        await conditionOf(iq(alice, 'set', xml('query', { xmlns: NS.version }), server.domain)),
      ).toBe('bad-request');
    });

    it('answers last activity: server uptime, a contact’s time since logout, 0 while online, forbidden otherwise', async () => {
      const alice = clients[0]!;
      const uptime = (
        await iq(alice, 'get', xml('query', { xmlns: NS.last }), server.domain)
      ).getChild('query', NS.last)!;
      expect(Number(uptime.attrs.seconds)).toBeGreaterThanOrEqual(0);

      // Alice receives Bob's and Dave's presence; not Carol's.
      for (const contact of ['bob', 'dave']) {
        expect((await act('alice', contact, 'invite')).status).toBe(200);
        expect((await act(contact, 'alice', 'accept')).status).toBe(200);
      }
      const last = (jid: string) => iq(alice, 'get', xml('query', { xmlns: NS.last }), jid);

      // Dave has never been online.
      expect(await conditionOf(last(user('dave').jid))).toBe('item-not-found');

      const bob = await connectXmpp(server, user('bob'));
      await bob.xmpp.send(xml('presence', {}, xml('status', {}, 'gone fishing')));
      await bob.waitFor((stanza) => stanza.is('presence') && stanza.attrs.from === bob.jid);
      const online = (await last(user('bob').jid)).getChild('query', NS.last)!;
      expect(online.attrs.seconds).toBe('0');
      // The connection ends without unavailable presence: the status it had is kept (as over REST).
      await bob.stop();
      // The session's end is recorded just after it leaves the registry: wait for REST to say so.
      const restLast = () =>
        http<{ online: boolean; seconds?: number; status?: string }>(
          server.url,
          'GET',
          `/api/contacts/${user('bob').jid}/last-activity`,
          { auth: user('alice').basic },
        );
      let rest = await restLast();
      for (
        let attempt = 0;
        attempt < 50 && (rest.body.online || rest.body.seconds === undefined);
      ) {
        attempt += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
        rest = await restLast();
      }
      expect(rest.body.online).toBe(false);
      const answer = (await last(user('bob').jid)).getChild('query', NS.last)!;
      expect(Math.abs(Number(answer.attrs.seconds) - rest.body.seconds!)).toBeLessThanOrEqual(1);
      expect(rest.body.status).toBe('gone fishing');
      expect(answer.text()).toBe('gone fishing');

      expect(await conditionOf(last(user('carol').jid))).toBe('forbidden');
      expect(await conditionOf(last(`nobody@${server.domain}`))).toBe('service-unavailable');
      // Own account: online now.
      expect((await last(user('alice').jid)).getChild('query', NS.last)!.attrs.seconds).toBe('0');
    });

    it('reads and writes vCards over the profile REST shares, and refuses what REST refuses', async () => {
      const alice = clients[0]!;
      const avatar = Buffer.from('pretend this is a PNG').toString('base64');
      await iq(
        alice,
        'set',
        xml(
          'vCard',
          { xmlns: NS.vcard },
          xml('FN', {}, 'Alice Liddell'),
          xml('NICKNAME', {}, 'al'),
          xml('EMAIL', {}, xml('INTERNET'), xml('USERID', {}, 'alice@example.org')),
          xml('BDAY', {}, '1990-04-01'),
          xml('DESC', {}, 'curious'),
          xml(
            'PHOTO',
            {},
            xml('TYPE', {}, 'image/png'),
            xml('BINVAL', {}, `${avatar.slice(0, 10)}\n${avatar.slice(10)}`),
          ),
        ),
      );
      const rest = await http<ProfileView>(server.url, 'GET', '/api/profile', {
        auth: user('alice').basic,
      });
      expect(rest.body).toMatchObject({
        full_name: 'Alice Liddell',
        nickname: 'al',
        email: 'alice@example.org',
        birthday: '1990-04-01',
        note: 'curious',
        avatar: { type: 'image/png', data: avatar },
      });

      // Carol reads Alice's vCard; then Alice changes it over REST and Carol sees that.
      const carol = await login('carol');
      const vcard = (
        await iq(carol, 'get', xml('vCard', { xmlns: NS.vcard }), user('alice').jid)
      ).getChild('vCard', NS.vcard)!;
      expect(vcard.getChildText('FN')).toBe('Alice Liddell');
      expect(vcard.getChild('EMAIL')!.getChildText('USERID')).toBe('alice@example.org');
      expect(vcard.getChild('PHOTO')!.getChildText('BINVAL')).toBe(avatar);
      await http(server.url, 'PUT', '/api/profile', {
        auth: user('alice').basic,
        json: { full_name: 'Alice L.' },
      });
      const changed = (
        await iq(carol, 'get', xml('vCard', { xmlns: NS.vcard }), user('alice').jid)
      ).getChild('vCard', NS.vcard)!;
      expect(changed.getChildText('FN')).toBe('Alice L.');
      expect(changed.getChild('PHOTO')).toBeUndefined();

      // An account with no profile has an empty vCard.
      const empty = (await iq(carol, 'get', xml('vCard', { xmlns: NS.vcard }))).getChild(
        'vCard',
        NS.vcard,
      )!;
      expect(empty.children).toEqual([]);

      expect(
        await conditionOf(
          iq(
            carol,
            'set',
            xml('vCard', { xmlns: NS.vcard }, xml('FN', {}, 'x')),
            user('alice').jid,
          ),
        ),
      ).toBe('forbidden');
      const invalid = [
        xml('vCard', { xmlns: NS.vcard }, xml('BDAY', {}, 'yesterday')),
        xml('vCard', { xmlns: NS.vcard }, xml('FN', {}, 'x'.repeat(1024))),
        xml(
          'vCard',
          { xmlns: NS.vcard },
          xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, 'A'.repeat(90_000))),
        ),
      ];
      for (const payload of invalid) {
        expect(await conditionOf(iq(alice, 'set', payload))).toBe('bad-request');
      }
      const kept = await http<ProfileView>(server.url, 'GET', '/api/profile', {
        auth: user('alice').basic,
      });
      expect(kept.body.full_name).toBe('Alice L.');

      // A user who blocks the asker looks like no user.
      await http(server.url, 'POST', '/api/blocking', {
        auth: user('erin').basic,
        json: { jid: user('carol').jid },
      });
      expect(
        await conditionOf(iq(carol, 'get', xml('vCard', { xmlns: NS.vcard }), user('erin').jid)),
      ).toBe('service-unavailable');
    });

    it('keeps private XML per user and namespace, and refuses jabber:* and other users’ storage', async () => {
      const alice = clients[0]!;
      const bookmarks = xml(
        'storage',
        { xmlns: NS.bookmarks },
        xml(
          'conference',
          { jid: 'team@muc.example.org', autojoin: 'true', name: 'Team & co' },
          xml('nick', {}, 'al'),
        ),
      );
      const get = (client: TestXmppClient, name: string, ns: string) =>
        iq(client, 'get', xml('query', { xmlns: NS.private }, xml(name, { xmlns: ns })));

      const nothing = (await get(alice, 'storage', NS.bookmarks)).getChild('query', NS.private)!;
      expect(nothing.getChild('storage', NS.bookmarks)!.children).toEqual([]);

      await iq(alice, 'set', xml('query', { xmlns: NS.private }, bookmarks));
      // Another session of the same user reads what was stored.
      const second = await login('alice', 'phone');
      const stored = (await get(second, 'storage', NS.bookmarks))
        .getChild('query', NS.private)!
        .getChild('storage', NS.bookmarks)!;
      const conference = stored.getChild('conference')!;
      expect(conference.attrs).toMatchObject({ jid: 'team@muc.example.org', name: 'Team & co' });
      expect(conference.getChildText('nick')).toBe('al');

      // Another user has storage of their own.
      const carol = clients.find((client) => client.jid.startsWith(user('carol').jid))!;
      expect(
        (await get(carol, 'storage', NS.bookmarks))
          .getChild('query', NS.private)!
          .getChild('storage', NS.bookmarks)!.children,
      ).toEqual([]);

      expect(
        await conditionOf(
          iq(
            alice,
            'set',
            xml('query', { xmlns: NS.private }, xml('x', { xmlns: 'jabber:x:oob' })),
          ),
        ),
      ).toBe('not-acceptable');
      expect(await conditionOf(get(alice, 'query', 'jabber:iq:roster'))).toBe('not-acceptable');
      expect(
        await conditionOf(
          iq(
            alice,
            'get',
            xml('query', { xmlns: NS.private }, xml('storage', { xmlns: NS.bookmarks })),
            user('carol').jid,
          ),
        ),
      ).toBe('forbidden');
      const huge = xml('notes', { xmlns: 'urn:example:notes' }, 'n'.repeat(70_000));
      expect(await conditionOf(iq(alice, 'set', xml('query', { xmlns: NS.private }, huge)))).toBe(
        'not-acceptable',
      );
      // At most 100 namespaces per user: with the bookmarks, these 100 are one too many, and none stay.
      const many = Array.from({ length: 100 }, (_, i) =>
        xml('n', { xmlns: `urn:example:many:${i}` }, String(i)),
      );
      expect(
        await conditionOf(iq(alice, 'set', xml('query', { xmlns: NS.private }, ...many))),
      ).toBe('not-acceptable');
      expect(
        (await get(alice, 'n', 'urn:example:many:0'))
          .getChild('query', NS.private)!
          .getChild('n', 'urn:example:many:0')!.children,
      ).toEqual([]);
      // Attributes in other namespaces (prefixed) are not kept by the stanza tree: refused, not stored broken.
      for (const declaredOn of ['query', 'data']) {
        const declaration = { 'xmlns:ex': 'urn:example:ex' };
        const prefixed = xml(
          'query',
          { xmlns: NS.private, ...(declaredOn === 'query' ? declaration : {}) },
          xml('data', {
            xmlns: 'urn:example:data',
            ...(declaredOn === 'data' ? declaration : {}),
            'ex:flag': 'on',
          }),
        );
        expect(await conditionOf(iq(alice, 'set', prefixed))).toBe('not-acceptable');
      }
      const lang = xml(
        'query',
        { xmlns: NS.private },
        xml('note', { xmlns: 'urn:example:note', 'xml:lang': 'en' }, 'hi'),
      );
      await iq(alice, 'set', lang);
      expect(
        (await get(alice, 'note', 'urn:example:note'))
          .getChild('query', NS.private)!
          .getChild('note', 'urn:example:note')!.attrs['xml:lang'],
      ).toBe('en');
      // A refused set stores nothing, not even its valid part.
      const mixed = xml(
        'query',
        { xmlns: NS.private },
        xml('prefs', { xmlns: 'urn:example:prefs' }, 'dark'),
        xml('x', { xmlns: 'jabber:x:data' }),
      );
      expect(await conditionOf(iq(alice, 'set', mixed))).toBe('not-acceptable');
      expect(
        (await get(alice, 'prefs', 'urn:example:prefs'))
          .getChild('query', NS.private)!
          .getChild('prefs', 'urn:example:prefs')!.children,
      ).toEqual([]);
    });

    it('shows the inbox of /api/inbox over XMPP, pages it with RSM, sets flags, and pushes changes', async () => {
      const erin = await login('erin');
      for (const [from, count] of [
        ['bob', 2],
        ['alice', 1],
        ['dave', 1],
      ] as const) {
        for (let i = 0; i < count; i += 1) {
          expect(
            (await sendMessage(server.url, user(from).basic, user('erin').jid, `${from} ${i}`))
              .status,
          ).toBe(200);
        }
      }
      const rest = (
        await http<InboxEntryView[]>(server.url, 'GET', '/api/inbox', { auth: user('erin').basic })
      ).body;
      expect(rest.map((entry) => entry.id)).toEqual([
        user('dave').jid,
        user('alice').jid,
        user('bob').jid,
      ]);

      const list = async (attrs: Record<string, string> = {}, rsm: Element[] = []) =>
        (
          await iq(
            erin,
            'get',
            xml(
              'query',
              { xmlns: NS.inbox, ...attrs },
              ...(rsm.length === 0 ? [] : [xml('set', { xmlns: NS.rsm }, ...rsm)]),
            ),
          )
        ).getChild('query', NS.inbox)!;
      const all = await list();
      const conversations = all.getChildren('conversation');
      expect(
        conversations.map((c) => ({
          type: c.attrs.type,
          id: c.attrs.id,
          unread: Number(c.attrs.unread),
          archived: c.attrs.archived === 'true',
          pinned: c.attrs.pinned === 'true',
          last: {
            id: c.getChild('last')!.attrs.id,
            from: c.getChild('last')!.attrs.from,
            body: c.getChildText('last'),
          },
        })),
      ).toEqual(
        rest.map((entry) => ({
          type: entry.type,
          id: entry.id,
          unread: entry.unread,
          archived: entry.archived,
          pinned: entry.pinned,
          last: {
            id: entry.last_message.id,
            from: entry.last_message.from,
            body: entry.last_message.body,
          },
        })),
      );
      expect(all.getChild('set', NS.rsm)!.getChildText('last')).toBe(rest[2]!.last_message.id);

      // RSM: two pages of two and one.
      const page1 = await list({}, [xml('max', {}, '2')]);
      expect(page1.getChildren('conversation').map((c) => c.attrs.id)).toEqual([
        user('dave').jid,
        user('alice').jid,
      ]);
      const after = page1.getChild('set', NS.rsm)!.getChildText('last')!;
      const page2 = await list({}, [xml('max', {}, '2'), xml('after', {}, after)]);
      expect(page2.getChildren('conversation').map((c) => c.attrs.id)).toEqual([user('bob').jid]);

      const totals = (await iq(erin, 'get', xml('totals', { xmlns: NS.inbox }))).getChild(
        'totals',
        NS.inbox,
      )!;
      const restTotals = (
        await http<{ unread: number; conversations: number; muted_unread: number }>(
          server.url,
          'GET',
          '/api/inbox/unread',
          { auth: user('erin').basic },
        )
      ).body;
      expect(totals.attrs).toMatchObject({
        unread: String(restTotals.unread),
        conversations: String(restTotals.conversations),
        'muted-unread': String(restTotals.muted_unread),
      });
      expect(restTotals.unread).toBe(4);

      // Flags set over XMPP show over REST; the session that listed gets the change pushed.
      const until = new Date(Date.now() + 3_600_000);
      const flagged = (
        await iq(
          erin,
          'set',
          xml('conversation', {
            xmlns: NS.inbox,
            type: 'chat',
            id: user('bob').jid,
            pinned: 'true',
            'muted-until': until.toISOString(),
          }),
        )
      ).getChild('conversation', NS.inbox)!;
      expect(flagged.attrs).toMatchObject({
        pinned: 'true',
        unread: '2',
        'muted-until': until.toISOString(),
      });
      const bobEntry = (
        await http<InboxEntryView>(server.url, 'GET', `/api/inbox/chat/${user('bob').jid}`, {
          auth: user('erin').basic,
        })
      ).body;
      expect(bobEntry).toMatchObject({ pinned: true, muted_until: until.getTime(), unread: 2 });
      const mutedTotals = (await iq(erin, 'get', xml('totals', { xmlns: NS.inbox }))).getChild(
        'totals',
        NS.inbox,
      )!;
      expect(mutedTotals.attrs).toMatchObject({ unread: '2', 'muted-unread': '2' });

      const pushOf = (stanza: Element, id: string) => {
        const conversation = stanza.is('message')
          ? stanza.getChild('update', NS.inbox)?.getChild('conversation')
          : undefined;

        return conversation?.attrs.id === id ? conversation : undefined;
      };
      await http(server.url, 'PUT', `/api/inbox/chat/${user('alice').jid}`, {
        auth: user('erin').basic,
        json: { archived: true },
      });
      const archivedPush = await erin.waitFor(
        (stanza) => pushOf(stanza, user('alice').jid)?.attrs.archived === 'true',
      );
      expect(archivedPush.attrs.from).toBe(server.domain);
      const archived = await list({ archived: 'true' });
      expect(archived.getChildren('conversation').map((c) => c.attrs.id)).toEqual([
        user('alice').jid,
      ]);

      await sendMessage(server.url, user('dave').basic, user('erin').jid, 'one more');
      const messagePush = await erin.waitFor(
        (stanza) => pushOf(stanza, user('dave').jid)?.attrs.unread === '2',
      );
      expect(pushOf(messagePush, user('dave').jid)!.getChild('last')!.attrs.id).toEqual(
        expect.any(String),
      );

      const reset = (
        await iq(erin, 'set', xml('reset', { xmlns: NS.inbox, type: 'chat', id: user('dave').jid }))
      ).getChild('conversation', NS.inbox)!;
      expect(reset.attrs.unread).toBe('0');
      const unreadOnly = await list({ unread: 'true' });
      expect(unreadOnly.getChildren('conversation').map((c) => c.attrs.id)).toEqual([
        user('bob').jid,
      ]);
      const rooms = await list({ type: 'room' });
      expect(rooms.getChildren('conversation')).toEqual([]);

      // Bad requests change nothing.
      const refused = [
        iq(erin, 'get', xml('query', { xmlns: NS.inbox, type: 'group' })),
        iq(erin, 'get', xml('query', { xmlns: NS.inbox, unread: 'maybe' })),
        iq(
          erin,
          'get',
          xml('query', { xmlns: NS.inbox }, xml('set', { xmlns: NS.rsm }, xml('max', {}, '501'))),
        ),
        iq(
          erin,
          'get',
          xml(
            'query',
            { xmlns: NS.inbox },
            xml('set', { xmlns: NS.rsm }, xml('after', {}, 'not-an-id')),
          ),
        ),
        iq(
          erin,
          'set',
          xml('conversation', {
            xmlns: NS.inbox,
            type: 'chat',
            id: user('bob').jid,
            pinned: 'yes',
          }),
        ),
        iq(
          erin,
          'set',
          xml('conversation', {
            xmlns: NS.inbox,
            type: 'chat',
            id: user('bob').jid,
            'muted-until': 'tomorrow',
          }),
        ),
        iq(erin, 'set', xml('reset', { xmlns: NS.inbox, type: 'group', id: 'x' })),
      ];
      for (const attempt of refused) {
        expect(await conditionOf(attempt)).toBe('bad-request');
      }
      expect(
        await conditionOf(
          iq(
            erin,
            'get',
            xml('query', { xmlns: NS.inbox }, xml('set', { xmlns: NS.rsm }, xml('before'))),
          ),
        ),
      ).toBe('feature-not-implemented');
      expect(
        await conditionOf(
          iq(erin, 'set', xml('reset', { xmlns: NS.inbox, type: 'chat', id: user('carol').jid })),
        ),
      ).toBe('item-not-found');
      expect(
        await conditionOf(iq(erin, 'get', xml('query', { xmlns: NS.inbox }), user('carol').jid)),
      ).toBe('service-unavailable');
      const unchanged = (
        await http<InboxEntryView>(server.url, 'GET', `/api/inbox/chat/${user('bob').jid}`, {
          auth: user('erin').basic,
        })
      ).body;
      expect(unchanged).toMatchObject({ pinned: true, unread: 2 });

      // A session that never listed the inbox gets no pushes.
      const quiet = await login('erin', 'quiet');
      await http(server.url, 'POST', `/api/inbox/chat/${user('bob').jid}/reset`, {
        auth: user('erin').basic,
      });
      await erin.waitFor((stanza) => pushOf(stanza, user('bob').jid)?.attrs.unread === '0');
      expect(
        quiet.stanzas.some((stanza) => stanza.getChild('update', NS.inbox) !== undefined),
      ).toBe(false);
    });
  },
);
