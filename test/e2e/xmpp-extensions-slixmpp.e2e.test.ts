import { readFileSync } from 'node:fs';

import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ProfileView } from '#src/profiles/profile-view.js';
import { http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import {
  hasSlixmpp,
  requireSlixmppInCi,
  SlixmppScript,
  warnIfNoSlixmpp,
} from '#test/helpers/slixmpp.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, xmppPorts } from '#test/helpers/xmpp.js';

const SCRIPT = new URL('../interop/slixmpp-extensions.py', import.meta.url).pathname;
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

warnIfNoSlixmpp('slixmpp extensions');

describe.skipIf(!servicesUp())('XMPP extensions with slixmpp (python3-slixmpp)', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
    carol = await registerUser(server.url, server.domain, 'carol');
  });

  afterAll(async () => {
    await server?.stop();
  });

  requireSlixmppInCi();

  it.runIf(hasSlixmpp)(
    'gets version, time, uptime, vCards, last activity, bookmarks in private storage and the inbox',
    async () => {
      // Alice receives Bob's presence; Bob is online over XMPP, with a profile set over REST.
      const invite = await http(server.url, 'PUT', `/api/contacts/${bob.jid}`, {
        auth: alice.basic,
        json: { action: 'invite' },
      });
      expect(invite.status).toBe(200);
      const accept = await http(server.url, 'PUT', `/api/contacts/${alice.jid}`, {
        auth: bob.basic,
        json: { action: 'accept' },
      });
      expect(accept.status).toBe(200);
      await http(server.url, 'PUT', '/api/profile', {
        auth: bob.basic,
        json: { full_name: 'Bob Builder' },
      });
      const bobXmpp = await connectXmpp(server, bob);
      await bobXmpp.xmpp.send(xml('presence'));
      await bobXmpp.waitFor((stanza) => stanza.is('presence') && stanza.attrs.from === bobXmpp.jid);
      expect((await sendMessage(server.url, bob.basic, alice.jid, 'first')).status).toBe(200);

      const script = new SlixmppScript(SCRIPT, [
        `${alice.jid}/slixmpp`,
        alice.password,
        '127.0.0.1',
        String(xmppPorts(server).c2s),
        bob.jid,
        carol.jid,
      ]);
      const next = (name: string) => script.next(name);

      try {
        expect(await next('version')).toMatchObject({ name: 'relay', version: VERSION });
        const time = await next('time');
        expect(time.utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
        expect(Math.abs(Date.parse(String(time.utc)) - Date.now())).toBeLessThan(60_000);
        expect(Number((await next('uptime')).seconds)).toBeGreaterThanOrEqual(0);

        expect(await next('own_vcard')).toMatchObject({
          fn: 'Alice from slixmpp',
          nickname: ['sli'],
        });
        const profile = await http<ProfileView>(server.url, 'GET', '/api/profile', {
          auth: alice.basic,
        });
        expect(profile.body).toMatchObject({ full_name: 'Alice from slixmpp', nickname: 'sli' });
        expect(await next('peer_vcard')).toMatchObject({ fn: 'Bob Builder' });

        expect(await next('peer_last')).toMatchObject({ seconds: 0 });
        expect(await next('stranger_last')).toMatchObject({ condition: 'forbidden' });

        expect((await next('bookmarks')).conferences).toEqual([
          { jid: 'team@muc.example.org', nick: 'sli', name: 'Team', autojoin: true },
        ]);
        expect(await next('private_refused')).toMatchObject({ condition: 'not-acceptable' });

        expect((await next('inbox')).conversations).toEqual([
          { id: bob.jid, type: 'chat', unread: 1, last: 'first' },
        ]);
        expect((await sendMessage(server.url, bob.basic, alice.jid, 'second')).status).toBe(200);
        expect(await next('inbox_push')).toMatchObject({ id: bob.jid, unread: 2 });
        await next('done');
        expect(script.events.some((event) => event.event === 'failed_auth')).toBe(false);
      } finally {
        script.child.kill();
        await bobXmpp.stop();
      }
    },
    40_000,
  );
});
