import { xml } from '@xmpp/client';
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
import { addMember, createRoom } from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import {
  hasSlixmpp,
  requireSlixmppInCi,
  SlixmppScript,
  warnIfNoSlixmpp,
} from '#test/helpers/slixmpp.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, xmppPorts, type TestXmppClient } from '#test/helpers/xmpp.js';

const SCRIPT = new URL('../interop/slixmpp-muc-client.py', import.meta.url).pathname;
const MUC = 'http://jabber.org/protocol/muc';

warnIfNoSlixmpp('slixmpp MUC interop');

/** Runs the script for `user`, on the server's plain c2s port. */
function runScript(server: TestServer, user: TestUser, args: string[]): SlixmppScript {
  return new SlixmppScript(
    SCRIPT,
    [`${user.jid}/slixmpp`, user.password, '127.0.0.1', String(xmppPorts(server).c2s), ...args],
    25_000,
  );
}

describe.skipIf(!servicesUp())(
  'XMPP multi-user chat interop with slixmpp (xep_0045, xep_0313)',
  () => {
    let server: TestServer;
    const users = new Map<string, TestUser>();
    const user = (name: string) => users.get(name)!;
    let room: string;
    let roomJid: string;
    let alice: TestXmppClient | undefined;

    beforeAll(async () => {
      server = await startTestServer();
      for (const name of ['alice', 'bob', 'carol', 'mallory']) {
        users.set(name, await registerUser(server.url, server.domain, name));
      }
      room = await createRoom(server.url, user('alice').basic, {
        name: 'Mixed',
        subject: 'Both sides',
      });
      roomJid = `${room}@muc.${server.domain}`;
      await addMember(server.url, user('alice').basic, room, user('bob').jid);
      await addMember(server.url, user('alice').basic, room, user('carol').jid);
    });

    afterAll(async () => {
      await alice?.stop();
      await server?.stop();
    });

    requireSlixmppInCi();

    it.runIf(hasSlixmpp)(
      'a slixmpp occupant, an xmpp.js occupant and a socket.io member share the room, and slixmpp reads it over MAM',
      async () => {
        await http(server.url, 'POST', `/api/rooms/${room}/messages`, {
          auth: user('carol').basic,
          json: { body: 'before anyone joined' },
        });
        alice = await connectXmpp(server, user('alice'));
        await alice.xmpp.send(xml('presence'));
        await alice.xmpp.send(
          xml('presence', { to: `${roomJid}/Alice` }, xml('x', { xmlns: MUC })),
        );
        await alice.waitFor(
          (stanza) => stanza.is('presence') && stanza.attrs.from === `${roomJid}/Alice`,
        );
        const carol = await connectSocket(server.url, {
          token: await tokenFor(server.url, user('carol')),
        });
        const carolMessages = new EventRecorder<RoomMessageView>(carol, 'room:message');

        const script = runScript(server, user('bob'), [
          roomJid,
          'Bob',
          'hello from slixmpp',
          'converse',
        ]);
        try {
          const joined = await script.next('joined');
          expect(joined).toMatchObject({
            // slixmpp lists its own presence among the occupants.
            occupants: ['Alice', 'Bob'],
            subject: 'Both sides',
            affiliation: 'member',
          });
          const [fromBob] = await carolMessages.waitFor(1, 15_000);
          expect(fromBob).toMatchObject({ from: user('bob').jid, body: 'hello from slixmpp' });
          await alice.waitFor(
            (stanza) =>
              stanza.is('message') &&
              stanza.attrs.from === `${roomJid}/Bob` &&
              stanza.getChildText('body') === 'hello from slixmpp',
          );

          await alice.xmpp.send(
            xml(
              'message',
              { to: roomJid, type: 'groupchat' },
              xml('body', {}, 'hello from xmpp.js'),
            ),
          );
          const heard = await script.next('groupchat');
          expect(heard).toMatchObject({ nick: 'Alice', body: 'hello from xmpp.js' });
          const [, fromAlice] = await carolMessages.waitFor(2);
          expect(heard.stanza_id).toBe(fromAlice!.id);

          const archive = await script.next('archive');
          expect(archive.bodies).toEqual([
            'before anyone joined',
            'hello from slixmpp',
            'hello from xmpp.js',
          ]);
          // Leaving reaches the other occupant.
          await alice.waitFor(
            (stanza) =>
              stanza.is('presence') &&
              stanza.attrs.from === `${roomJid}/Bob` &&
              stanza.attrs.type === 'unavailable',
          );
          await script.next('done');
        } finally {
          script.child.kill();
          carol.disconnect();
        }
      },
      60_000,
    );

    it.runIf(hasSlixmpp)(
      'refuses a non-member both the room and its archive',
      async () => {
        const script = runScript(server, user('mallory'), [roomJid, 'Mallory', '-', 'refused']);
        try {
          expect(await script.next('join_error')).toMatchObject({
            condition: 'registration-required',
          });
          expect(await script.next('archive_error')).toMatchObject({ condition: 'forbidden' });
          await script.next('done');
          expect(
            script.events.some(
              (event) => event.event === 'joined' || event.event === 'archive_read',
            ),
          ).toBe(false);
        } finally {
          script.child.kill();
        }
      },
      60_000,
    );
  },
);
