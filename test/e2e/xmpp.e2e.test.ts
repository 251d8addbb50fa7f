import { xml } from '@xmpp/client';
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
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

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
    await aliceXmpp.xmpp.send(
      xml('message', { to: bob.jid, type: 'chat', id: 'm1' }, xml('body', {}, 'hello from XMPP')),
    );

    const [live] = await received.waitFor(1);
    expect(live).toMatchObject({ from: alice.jid, to: bob.jid, body: 'hello from XMPP' });
    const archive = await http<MessageView[]>(server.url, 'GET', `/api/messages/${alice.jid}`, {
      auth: bob.basic,
    });
    expect(archive.body.at(-1)).toMatchObject({ id: live!.id, body: 'hello from XMPP' });
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
});
