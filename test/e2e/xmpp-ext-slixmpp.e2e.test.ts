import { xml } from '@xmpp/client';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BlockView } from '#src/blocking/block-view.js';
import type { InboxEntryView } from '#src/inbox/inbox-view.js';
import type { MessageView } from '#src/messaging/message-view.js';
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
import {
  hasSlixmpp,
  requireSlixmppInCi,
  SlixmppScript,
  warnIfNoSlixmpp,
} from '#test/helpers/slixmpp.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, xmppPorts, type TestXmppClient } from '#test/helpers/xmpp.js';

const SCRIPT = new URL('../interop/slixmpp-ext.py', import.meta.url).pathname;
// Debian's python3-slixmpp is installed for the system interpreter, not for a user's pyenv.

warnIfNoSlixmpp('slixmpp extensions');

const CARBONS = 'urn:xmpp:carbons:2';
const CORRECT = 'urn:xmpp:message-correct:0';
const RETRACT = 'urn:xmpp:message-retract:1';
const MARKERS = 'urn:xmpp:chat-markers:0';

/** test/interop/slixmpp-ext.py for one account: commands in, events out. */
function startSlixmpp(jid: string, password: string, port: number): SlixmppScript {
  return new SlixmppScript(SCRIPT, [jid, password, '127.0.0.1', String(port)], 15_000);
}

describe.skipIf(!servicesUp())('XMPP extensions interop with slixmpp (python3-slixmpp)', () => {
  let server: TestServer;
  let sam: TestUser;
  let tom: TestUser;
  let uma: TestUser;
  const clients: TestXmppClient[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    sam = await registerUser(server.url, server.domain, 'sam');
    tom = await registerUser(server.url, server.domain, 'tom');
    uma = await registerUser(server.url, server.domain, 'uma');
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.disconnect());
    await Promise.all(clients.map((client) => client.stop()));
    await server?.stop();
  });

  async function online(user: TestUser, resource: string): Promise<TestXmppClient> {
    const client = await connectXmpp(server, user, { resource });
    clients.push(client);
    await client.xmpp.send(xml('presence'));
    await client.xmpp.iqCaller.request(
      xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      5000,
    );

    return client;
  }

  async function conversation(owner: TestUser, peer: TestUser): Promise<MessageView[]> {
    return (
      await http<MessageView[]>(server.url, 'GET', `/api/messages/${peer.jid}`, {
        auth: owner.basic,
      })
    ).body;
  }

  requireSlixmppInCi();

  it.runIf(hasSlixmpp)(
    'carbons, corrections, retractions, markers, blocking and CSI between slixmpp, xmpp.js, socket.io and REST',
    async () => {
      for (const [from, to, action] of [
        [sam, tom, 'invite'],
        [tom, sam, 'accept'],
        [tom, sam, 'invite'],
        [sam, tom, 'accept'],
      ] as const) {
        const result = await http(server.url, 'PUT', `/api/contacts/${to.jid}`, {
          auth: from.basic,
          json: { action },
        });
        expect(result.status).toBe(200);
      }
      const web = await online(sam, 'web');
      await web.xmpp.iqCaller.request(
        xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS })),
        5000,
      );
      const samSocket = await connectSocket(server.url, {
        token: await tokenFor(server.url, sam),
      });
      sockets.push(samSocket);
      const sentCopies = new EventRecorder<MessageView>(samSocket, 'message:sent');
      const tomClient = await online(tom, 'desk');
      const slix = startSlixmpp(`${sam.jid}/slix`, sam.password, xmppPorts(server).c2s);
      try {
        await slix.next((event) => event.event === 'ready', 'ready');
        await slix.next((event) => event.event === 'csi_offered', 'the CSI stream feature');
        expect((await slix.run('carbons')).event).toBe('done');

        // Carbons: slixmpp's message reaches Tom, xmpp.js (as a sent carbon) and socket.io.
        await slix.run('send', { to: tom.jid, body: 'from slixmpp', id: 'slix-1' });
        const atTom = await tomClient.waitFor(
          (stanza) => stanza.is('message') && stanza.getChildText('body') === 'from slixmpp',
        );
        const serverId = atTom.attrs.id as string;
        expect(atTom.attrs.from).toBe(`${sam.jid}/slix`);
        const carbon = await web.waitFor(
          (stanza) =>
            stanza.getChild('sent', CARBONS)?.getChild('forwarded')?.getChild('message')?.attrs
              .id === 'slix-1',
        );
        expect(carbon.attrs.from).toBe(sam.jid);
        const [copy] = await sentCopies.waitFor(1);
        expect(copy).toMatchObject({ id: serverId, body: 'from slixmpp', client_id: 'slix-1' });
        // And xmpp.js's message reaches slixmpp as a carbon.
        await web.xmpp.send(
          xml('message', { to: tom.jid, type: 'chat' }, xml('body', {}, 'from xmpp.js')),
        );
        const slixCarbon = await slix.next(
          (event) => event.event === 'carbon' && event.body === 'from xmpp.js',
          'carbon',
        );
        expect(slixCarbon).toMatchObject({ kind: 'sent', from: `${sam.jid}/web`, to: tom.jid });
        await slix.run('ping');
        expect(slix.events.some((event) => event.event === 'carbon' && event.id === 'slix-1')).toBe(
          false,
        );

        // A correction by the author, by her own id; Tom hears it by the server's.
        await slix.run('correct', { to: tom.jid, id: 'slix-1', body: 'from slixmpp, fixed' });
        const fixed = await tomClient.waitFor(
          (stanza) => stanza.is('message') && stanza.getChildText('body') === 'from slixmpp, fixed',
        );
        expect(fixed.getChild('replace', CORRECT)!.attrs.id).toBe(serverId);
        expect((await conversation(tom, sam)).find((view) => view.id === serverId)).toMatchObject({
          body: 'from slixmpp, fixed',
          revision: 1,
        });

        // A correction by someone else: slixmpp corrects Tom's message and is refused.
        await sendMessage(server.url, tom.basic, sam.jid, 'tom wrote this');
        const tomMessage = await slix.next(
          (event) => event.event === 'message' && event.body === 'tom wrote this',
          'message from Tom',
        );
        const tomsId = tomMessage.id as string;
        expect(tomMessage.stanza_id).toBe(tomsId);
        const attempt = await slix.run('correct', {
          to: tom.jid,
          id: tomsId,
          body: 'sam rewrote it',
        });
        const refusal = await slix.next(
          (event) =>
            event.event === 'message' && event.type === 'error' && event.id === attempt.tag,
          'correction refused',
        );
        expect(refusal).toMatchObject({ from: tom.jid, condition: 'forbidden' });
        expect((await conversation(tom, sam)).find((view) => view.id === tomsId)!.body).toBe(
          'tom wrote this',
        );
        expect((await conversation(sam, tom)).some((view) => view.body === 'sam rewrote it')).toBe(
          false,
        );

        // Markers and receipts from slixmpp are the REST markers; Tom's client hears them.
        await slix.run('receipt', { to: tom.jid, id: tomsId });
        await slix.run('marker', { to: tom.jid, id: tomsId, marker: 'displayed' });
        await tomClient.waitFor(
          (stanza) =>
            stanza.is('message') && stanza.getChild('displayed', MARKERS)?.attrs.id === tomsId,
        );
        const markers = await http<Record<string, string[]>>(
          server.url,
          'GET',
          `/api/messages/${tomsId}/markers`,
          { auth: tom.basic },
        );
        expect(markers.body).toMatchObject({ received: [sam.jid], displayed: [sam.jid] });
        const entry = await http<InboxEntryView>(server.url, 'GET', `/api/inbox/chat/${tom.jid}`, {
          auth: sam.basic,
        });
        expect(entry.body.unread).toBe(0);

        // A retraction in slixmpp's (XEP-0422) form; Tom hears the current form.
        await slix.run('retract', { to: tom.jid, id: 'slix-1' });
        await tomClient.waitFor(
          (stanza) =>
            stanza.is('message') && stanza.getChild('retract', RETRACT)?.attrs.id === serverId,
        );
        const retracted = (await conversation(tom, sam)).find((view) => view.id === serverId)!;
        expect(retracted.body).toBe('');
        expect(retracted.retracted_at).toBeTypeOf('number');

        // Blocking from each side.
        expect((await slix.run('block', { jids: [uma.jid] })).event).toBe('done');
        const list = async () =>
          (
            await http<BlockView[]>(server.url, 'GET', '/api/blocking', { auth: sam.basic })
          ).body.map((item) => item.jid);
        expect(await list()).toEqual([uma.jid]);
        expect(await slix.run('blocklist')).toMatchObject({ items: [uma.jid] });
        expect(
          (await http(server.url, 'DELETE', `/api/blocking/${uma.jid}`, { auth: sam.basic }))
            .status,
        ).toBe(204);
        await slix.next(
          (event) => event.event === 'unblocked' && (event.items as string[]).includes(uma.jid),
          'unblock push',
        );
        await http(server.url, 'POST', '/api/blocking', {
          auth: sam.basic,
          json: { jid: 'spam.example' },
        });
        await slix.next(
          (event) =>
            event.event === 'blocked' && (event.items as string[]).includes('spam.example'),
          'block push',
        );
        expect(await slix.run('blocklist')).toMatchObject({ items: ['spam.example'] });
        expect((await slix.run('unblock', { jids: [] })).event).toBe('done');
        expect(await list()).toEqual([]);

        // CSI: inactive holds Tom's presence but not his message; active brings the newest one.
        await slix.run('inactive');
        await slix.run('ping');
        for (const status of ['away one', 'away two']) {
          await tomClient.xmpp.send(xml('presence', {}, xml('status', {}, status)));
        }
        await tomClient.xmpp.iqCaller.request(
          xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
          5000,
        );
        await sendMessage(server.url, tom.basic, sam.jid, 'while slixmpp sleeps');
        await slix.next(
          (event) => event.event === 'message' && event.body === 'while slixmpp sleeps',
          'message while inactive',
        );
        await slix.run('ping');
        const statuses = () =>
          slix.events
            .filter((event) => event.event === 'presence' && event.from === `${tom.jid}/desk`)
            .map((event) => event.status);
        expect(statuses()).not.toContain('away one');
        expect(statuses()).not.toContain('away two');
        await slix.run('active');
        await slix.next(
          (event) => event.event === 'presence' && event.status === 'away two',
          'presence after active',
        );
        expect(statuses()).not.toContain('away one');
      } finally {
        slix.stop();
      }
    },
    60_000,
  );
});
