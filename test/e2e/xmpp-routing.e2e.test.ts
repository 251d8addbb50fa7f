import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
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

const VERSION = 'jabber:iq:version';

const isIq = (id: string) => (stanza: Element) => stanza.is('iq') && stanza.attrs.id === id;
const bodyOf = (stanza: Element) => stanza.getChildText('body');

describe.skipIf(!servicesUp())('XMPP routing between resources (RFC 6121 section 8.5)', () => {
  let server: TestServer;
  let carol: TestUser;
  let dave: TestUser;
  const clients: TestXmppClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    carol = await registerUser(server.url, server.domain, 'carol');
    dave = await registerUser(server.url, server.domain, 'dave');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await server?.stop();
  });

  async function online(user: TestUser, resource: string, priority = 0) {
    const client = await connectXmpp(server, user, { resource });
    clients.push(client);
    await client.xmpp.send(xml('presence', {}, xml('priority', {}, String(priority))));

    return client;
  }

  it('routes an IQ to another user’s full JID there, and its result back to the asker', async () => {
    const carolPhone = await online(carol, 'phone');
    const daveDesk = await online(dave, 'desk');

    await carolPhone.xmpp.send(
      xml('iq', { type: 'get', id: 'v1', to: `${dave.jid}/desk` }, xml('query', VERSION)),
    );
    const asked = await daveDesk.waitFor(isIq('v1'));
    expect(asked.attrs).toMatchObject({ type: 'get', from: `${carol.jid}/phone` });

    await daveDesk.xmpp.send(
      xml(
        'iq',
        { type: 'result', id: 'v1', to: asked.attrs.from },
        xml('query', VERSION, xml('name', {}, 'dave-client')),
      ),
    );
    const answer = await carolPhone.waitFor(isIq('v1'));
    expect(answer.attrs).toMatchObject({ type: 'result', from: `${dave.jid}/desk` });
    expect(answer.getChild('query', VERSION)?.getChildText('name')).toBe('dave-client');
  });

  it('answers an IQ to a resource that is not online with service-unavailable, on the sender’s behalf', async () => {
    const carolTab = await online(carol, 'tablet');

    await carolTab.xmpp.send(
      xml('iq', { type: 'get', id: 'v2', to: `${dave.jid}/gone` }, xml('query', VERSION)),
    );
    const answer = await carolTab.waitFor(isIq('v2'));
    expect(answer.attrs).toMatchObject({ type: 'error', from: `${dave.jid}/gone` });
    expect(answer.getChild('error')?.getChild('service-unavailable')).toBeDefined();

    await carolTab.xmpp.send(
      xml('iq', { type: 'get', id: 'v3', to: `nobody@${server.domain}/x` }, xml('query', VERSION)),
    );
    const missing = await carolTab.waitFor(isIq('v3'));
    expect(missing.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });

  it('routes an IQ between two resources of one account', async () => {
    const one = await online(dave, 'one');
    const two = await online(dave, 'two');

    await one.xmpp.send(
      xml('iq', { type: 'get', id: 'own-1', to: `${dave.jid}/two` }, xml('query', VERSION)),
    );
    const asked = await two.waitFor(isIq('own-1'));
    expect(asked.attrs.from).toBe(`${dave.jid}/one`);
  });

  it('delivers a chat message to a full JID to that resource only, archived and seen over socket.io', async () => {
    const user = await registerUser(server.url, server.domain, 'erin');
    const high = await online(user, 'high', 10);
    const low = await online(user, 'low', 0);
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, user) });
    const overSocket = new EventRecorder<MessageView>(socket, 'message');
    const carolPc = await online(carol, 'pc');

    await carolPc.xmpp.send(
      xml(
        'message',
        { type: 'chat', to: `${user.jid}/low`, id: 'full-1' },
        xml('body', {}, 'for the low one'),
      ),
    );
    const got = await low.waitFor((stanza) => bodyOf(stanza) === 'for the low one');
    expect(got.attrs.to).toBe(`${user.jid}/low`);
    const [live] = await overSocket.waitFor(1);
    expect(live).toMatchObject({ from: carol.jid, body: 'for the low one' });
    // To the bare JID, both available resources with a non-negative priority take it.
    await carolPc.xmpp.send(
      xml('message', { type: 'chat', to: user.jid }, xml('body', {}, 'for everyone')),
    );
    await high.waitFor((stanza) => bodyOf(stanza) === 'for everyone');
    await low.waitFor((stanza) => bodyOf(stanza) === 'for everyone');
    expect(high.stanzas.some((stanza) => bodyOf(stanza) === 'for the low one')).toBe(false);

    const archive = await http<MessageView[]>(server.url, 'GET', `/api/messages/${carol.jid}`, {
      auth: user.basic,
    });
    expect(archive.body.map((message) => message.body)).toEqual([
      'for the low one',
      'for everyone',
    ]);
    socket.disconnect();
  });

  it('delivers a message to a resource that is gone as to the bare JID', async () => {
    const user = await registerUser(server.url, server.domain, 'frank');
    const only = await online(user, 'only');
    const carolPc = await online(carol, 'pc2');

    await carolPc.xmpp.send(
      xml('message', { type: 'chat', to: `${user.jid}/gone` }, xml('body', {}, 'falls back')),
    );
    const got = await only.waitFor((stanza) => bodyOf(stanza) === 'falls back');
    // From the sending resource's full JID (RFC 6120 section 8.1.2.1).
    expect(got.attrs.from).toBe(`${carol.jid}/pc2`);
  });

  it('delivers headlines live to available resources and stores none', async () => {
    const user = await registerUser(server.url, server.domain, 'gina');
    const phone = await online(user, 'phone');
    const negative = await online(user, 'hidden', -1);
    const carolPc = await online(carol, 'pc3');

    await carolPc.xmpp.send(
      xml('message', { type: 'headline', to: user.jid }, xml('body', {}, 'news flash')),
    );
    const got = await phone.waitFor((stanza) => bodyOf(stanza) === 'news flash');
    expect(got.attrs).toMatchObject({ type: 'headline', from: `${carol.jid}/pc3` });
    await carolPc.xmpp.send(
      xml(
        'message',
        { type: 'headline', to: `${user.jid}/hidden` },
        xml('body', {}, 'to the hidden one'),
      ),
    );
    await negative.waitFor((stanza) => bodyOf(stanza) === 'to the hidden one');
    expect(negative.stanzas.some((stanza) => bodyOf(stanza) === 'news flash')).toBe(false);

    const archive = await http<MessageView[]>(server.url, 'GET', `/api/messages/${carol.jid}`, {
      auth: user.basic,
    });
    expect(archive.body).toEqual([]);
  });

  it('keeps reading while messages commit, and every one arrives in order', async () => {
    const user = await registerUser(server.url, server.domain, 'hank');
    const reader = await online(user, 'reader');
    const carolPc = await online(carol, 'burst');
    const count = 200;

    for (let index = 0; index < count; index += 1) {
      void carolPc.xmpp.send(
        xml('message', { type: 'chat', to: user.jid }, xml('body', {}, `burst ${index}`)),
      );
    }
    await reader.waitFor((stanza) => bodyOf(stanza) === `burst ${count - 1}`, 15_000);
    const bodies = reader.stanzas.map(bodyOf).filter((body) => body?.startsWith('burst '));
    expect(bodies).toEqual(Array.from({ length: count }, (_, index) => `burst ${index}`));
    const archive = await http<MessageView[]>(
      server.url,
      'GET',
      `/api/messages/${carol.jid}?limit=${count}`,
      { auth: user.basic },
    );
    expect(archive.body.map((message) => message.body)).toEqual(bodies);
  });
});
