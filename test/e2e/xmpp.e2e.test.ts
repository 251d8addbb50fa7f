import { xml } from '@xmpp/client';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, xmppPorts, type TestXmppClient } from '#test/helpers/xmpp.js';

describe.skipIf(!servicesUp())('XMPP gateway with xmpp.js', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const clients: TestXmppClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await server?.stop();
  });

  async function login(user: TestUser, options: Parameters<typeof connectXmpp>[2] = {}) {
    const client = await connectXmpp(server, user, options);
    clients.push(client);

    return client;
  }

  it('logs in over TCP with STARTTLS and SCRAM, and a message from XMPP reaches socket.io and the archive', async () => {
    const bobSocket = await connectSocket(server.url, { token: await tokenFor(server.url, bob) });
    const received = new EventRecorder<MessageView>(bobSocket, 'message');
    const aliceXmpp = await login(alice, { resource: 'phone' });

    expect(aliceXmpp.jid).toBe(`${alice.jid}/phone`);
    // An empty body is no message, as over REST: nothing delivered, nothing stored.
    await aliceXmpp.xmpp.send(
      xml('message', { to: bob.jid, type: 'chat', id: 'm0' }, xml('body', {}, '')),
    );
    // Of several bodies (RFC 6121 section 5.2.3), the first with text is the message.
    await aliceXmpp.xmpp.send(
      xml(
        'message',
        { to: bob.jid, type: 'chat', id: 'm1' },
        xml('body', { 'xml:lang': 'de' }, ''),
        xml('body', {}, 'hello from XMPP'),
      ),
    );

    const [live] = await received.waitFor(1);
    expect(received.events).toHaveLength(1);
    expect(live).toMatchObject({ from: alice.jid, to: bob.jid, body: 'hello from XMPP' });
    const archive = await http<MessageView[]>(server.url, 'GET', `/api/messages/${alice.jid}`, {
      auth: bob.basic,
    });
    expect(archive.body).toEqual([
      expect.objectContaining({ id: live!.id, body: 'hello from XMPP' }),
    ]);
    bobSocket.disconnect();
  });

  it('logs in over WebSocket (RFC 7395) beside socket.io, and both carry one conversation', async () => {
    // xmpp.js uses the global WebSocket, which Node 20 does not have yet.
    (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
    const aliceWs = await login(alice, {
      service: `${server.url.replace('http', 'ws')}/xmpp-websocket`,
      resource: 'browser',
    });
    const bobSocket = await connectSocket(server.url, { token: await tokenFor(server.url, bob) });
    const received = new EventRecorder<MessageView>(bobSocket, 'message');

    expect(aliceWs.jid).toBe(`${alice.jid}/browser`);
    // Available, so that messages to the bare JID reach it (RFC 6121 section 8.5.2.1).
    await aliceWs.xmpp.send(xml('presence'));
    await aliceWs.xmpp.send(
      xml('message', { to: bob.jid, type: 'chat' }, xml('body', {}, 'over WebSocket')),
    );
    const [live] = await received.waitFor(1);
    expect(live).toMatchObject({ from: alice.jid, body: 'over WebSocket' });
    const reply = await sendMessage(server.url, bob.basic, alice.jid, 'back to WebSocket');
    const stanza = await aliceWs.waitFor((s) => s.getChildText('body') === 'back to WebSocket');
    expect(stanza.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.id).toBe(reply.body.id);
    bobSocket.disconnect();
  });

  it('delivers a REST message to an XMPP client with the archive id as stanza-id', async () => {
    const bobXmpp = await login(bob);
    await bobXmpp.xmpp.send(xml('presence'));
    const sent = await sendMessage(server.url, alice.basic, bob.jid, 'hello from REST');

    expect(sent.status).toBe(200);
    const stanza = await bobXmpp.waitFor(
      (s) => s.is('message') && s.getChildText('body') === 'hello from REST',
    );
    expect(stanza.attrs.from).toBe(alice.jid);
    expect(stanza.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.id).toBe(sent.body.id);
  });

  it('keeps an XMPP message of type normal, none or unknown as normal, and chat as chat (RFC 6121 section 5.2.2)', async () => {
    const bobXmpp = await login(bob, { resource: 'types' });
    await bobXmpp.xmpp.send(xml('presence'));
    const aliceXmpp = await login(alice, { resource: 'typer' });
    await aliceXmpp.xmpp.send(xml('presence'));
    const types = {
      'typed chat': 'chat',
      'typed normal': 'normal',
      untyped: undefined,
      'typed bogus': 'bogus',
    };
    for (const [body, type] of Object.entries(types)) {
      await aliceXmpp.xmpp.send(xml('message', { to: bob.jid, type }, xml('body', {}, body)));
    }

    const seen = [];
    for (const body of Object.keys(types)) {
      const stanza = await bobXmpp.waitFor(
        (s) => s.is('message') && s.getChildText('body') === body,
      );
      expect(stanza.attrs.from).toBe(`${alice.jid}/typer`);
      seen.push(stanza.attrs.type);
    }
    expect(seen).toEqual(['chat', 'normal', 'normal', 'normal']);

    // A chat state comes from the full JID too.
    await aliceXmpp.xmpp.send(
      xml(
        'message',
        { to: bob.jid, type: 'chat' },
        xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    );
    const typing = await bobXmpp.waitFor(
      (s) => s.getChild('composing', 'http://jabber.org/protocol/chatstates') !== undefined,
    );
    expect(typing.attrs.from).toBe(`${alice.jid}/typer`);
  });
});

describe.skipIf(!servicesUp())('XMPP gateway: direct TLS and MAM', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const clients: TestXmppClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await server?.stop();
  });

  it('logs in over direct TLS (XEP-0368) and pages 300 messages through MAM with no gap or duplicate', async () => {
    const sentIds: string[] = [];
    for (let i = 0; i < 300; i++) {
      const sent = await sendMessage(
        server.url,
        i % 2 === 0 ? alice.basic : bob.basic,
        i % 2 === 0 ? bob.jid : alice.jid,
        `m${i}`,
      );
      sentIds.push(sent.body.id);
    }
    const bobXmpp = await connectXmpp(server, bob, {
      service: `xmpps://127.0.0.1:${xmppPorts(server).c2sTls}`,
    });
    clients.push(bobXmpp);

    const seen: string[] = [];
    let after: string | undefined;
    let complete = false;
    for (let page = 0; page < 20 && !complete; page++) {
      const queryid = `q${page}`;
      const fin = await bobXmpp.xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'query',
            { xmlns: 'urn:xmpp:mam:2', queryid },
            xml(
              'x',
              { xmlns: 'jabber:x:data', type: 'submit' },
              xml(
                'field',
                { var: 'FORM_TYPE', type: 'hidden' },
                xml('value', {}, 'urn:xmpp:mam:2'),
              ),
              xml('field', { var: 'with' }, xml('value', {}, alice.jid)),
            ),
            xml(
              'set',
              { xmlns: 'http://jabber.org/protocol/rsm' },
              xml('max', {}, '70'),
              ...(after === undefined ? [] : [xml('after', {}, after)]),
            ),
          ),
        ),
        5000,
      );
      const results = bobXmpp.stanzas
        .map((stanza) => stanza.getChild('result', 'urn:xmpp:mam:2'))
        .filter((result) => result?.attrs.queryid === queryid);
      const ids = results.map((result) => result!.attrs.id as string);
      seen.push(...ids);
      const finElement = fin.getChild('fin', 'urn:xmpp:mam:2')!;
      complete = finElement.attrs.complete === 'true';
      const set = finElement.getChild('set', 'http://jabber.org/protocol/rsm')!;
      if (ids.length > 0) {
        expect(set.getChildText('first')).toBe(ids[0]);
        expect(set.getChildText('last')).toBe(ids.at(-1));
        // XEP-0059 section 2.6: the first page starts at index 0; later ones say no index rather than a wrong one.
        expect(set.getChild('first')!.attrs.index).toBe(page === 0 ? '0' : undefined);
      }
      after = set.getChildText('last') ?? after;
      const first = results[0]?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');
      if (first !== undefined) {
        expect(first.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.id).toBe(ids[0]);
      }
    }

    expect(complete).toBe(true);
    expect(seen).toEqual(sentIds);
  });

  it('pages backwards from the newest with an empty RSM before', async () => {
    const bobXmpp = clients[0]!;
    const fin = await bobXmpp.xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set' },
        xml(
          'query',
          { xmlns: 'urn:xmpp:mam:2', queryid: 'back' },
          xml(
            'set',
            { xmlns: 'http://jabber.org/protocol/rsm' },
            xml('max', {}, '5'),
            xml('before'),
          ),
        ),
      ),
      5000,
    );
    const bodies = bobXmpp.stanzas
      .map((stanza) => stanza.getChild('result', 'urn:xmpp:mam:2'))
      .filter((result) => result?.attrs.queryid === 'back')
      .map((result) => result!.getChild('forwarded')!.getChild('message')!.getChildText('body'));

    expect(bodies).toEqual(['m295', 'm296', 'm297', 'm298', 'm299']);
    expect(fin.getChild('fin', 'urn:xmpp:mam:2')?.attrs.complete).toBeUndefined();
  });
});
