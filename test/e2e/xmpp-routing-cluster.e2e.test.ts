import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import { http, registerUser, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

type Element = TestXmppClient['stanzas'][number];

const VERSION = 'jabber:iq:version';

const isIq = (id: string) => (stanza: Element) => stanza.is('iq') && stanza.attrs.id === id;
const bodyOf = (stanza: Element) => stanza.getChildText('body');

/**
 * RFC 6121 section 8.5 routing when the addressed resource lives on another
 * node: the stanza crosses the cluster bus as JSON and must arrive whole,
 * with its children, attributes and text, and the answer must find its way
 * back to the asker's node.
 */
describe.skipIf(!servicesUp())('XMPP routing to resources on another node', () => {
  const domain = uniqueDomain();
  const shared = { REDIS_KEY_PREFIX: `test:routing-cluster:${domain}:` };
  let nodeA: TestServer;
  let nodeB: TestServer;
  let ivy: TestUser;
  let jack: TestUser;
  const clients: TestXmppClient[] = [];

  beforeAll(async () => {
    nodeA = await startTestServer({ ...shared, NODE_ID: 'route-a' }, { domain });
    nodeB = await startTestServer({ ...shared, NODE_ID: 'route-b' }, { domain });
    ivy = await registerUser(nodeA.url, domain, 'ivy');
    jack = await registerUser(nodeA.url, domain, 'jack');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await nodeA?.stop();
    await nodeB?.stop();
  });

  async function online(node: TestServer, user: TestUser, resource: string, priority = 0) {
    const client = await connectXmpp(node, user, { resource });
    clients.push(client);
    await client.xmpp.send(xml('presence', {}, xml('priority', {}, String(priority))));
    // A ping answered means the initial presence before it was handled, offline delivery included,
    // so nothing sent afterwards can arrive as an offline message instead of a live one.
    await client.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      5000,
    );

    return client;
  }

  it('carries an IQ to a full JID on the other node and its result back, payload intact', async () => {
    const ivyPhone = await online(nodeA, ivy, 'phone');
    const jackDesk = await online(nodeB, jack, 'desk');

    await ivyPhone.xmpp.send(
      xml('iq', { type: 'get', id: 'x-v1', to: `${jack.jid}/desk` }, xml('query', VERSION)),
    );
    const asked = await jackDesk.waitFor(isIq('x-v1'));
    expect(asked.attrs).toMatchObject({ type: 'get', from: `${ivy.jid}/phone` });
    expect(asked.getChild('query', VERSION)).toBeDefined();

    await jackDesk.xmpp.send(
      xml(
        'iq',
        { type: 'result', id: 'x-v1', to: asked.attrs.from },
        xml(
          'query',
          VERSION,
          xml('name', {}, 'jack & <client>'),
          xml('version', {}, '2.0 – ünïcode'),
        ),
      ),
    );
    const answer = await ivyPhone.waitFor(isIq('x-v1'));
    expect(answer.attrs).toMatchObject({ type: 'result', from: `${jack.jid}/desk` });
    const query = answer.getChild('query', VERSION);
    expect(query?.getChildText('name')).toBe('jack & <client>');
    expect(query?.getChildText('version')).toBe('2.0 – ünïcode');
  });

  it('answers service-unavailable for a resource on no node, even with the account online elsewhere', async () => {
    const ivyTab = await online(nodeA, ivy, 'tab');
    await online(nodeB, jack, 'laptop');

    await ivyTab.xmpp.send(
      xml('iq', { type: 'get', id: 'x-v2', to: `${jack.jid}/nowhere` }, xml('query', VERSION)),
    );
    const answer = await ivyTab.waitFor(isIq('x-v2'));
    expect(answer.attrs).toMatchObject({ type: 'error', from: `${jack.jid}/nowhere` });
    expect(answer.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });

  it('delivers a headline to a full JID on the other node live, and stores none', async () => {
    const ivyPc = await online(nodeA, ivy, 'pc');
    const jackHidden = await online(nodeB, jack, 'hidden', -1);

    await ivyPc.xmpp.send(
      xml(
        'message',
        { type: 'headline', to: `${jack.jid}/hidden`, id: 'news-1' },
        xml('subject', {}, 'Breaking'),
        xml('body', {}, 'across the bus'),
      ),
    );
    const got = await jackHidden.waitFor((stanza) => bodyOf(stanza) === 'across the bus');
    expect(got.attrs).toMatchObject({
      type: 'headline',
      id: 'news-1',
      from: `${ivy.jid}/pc`,
      to: `${jack.jid}/hidden`,
    });
    expect(got.getChildText('subject')).toBe('Breaking');

    const archive = await http<MessageView[]>(nodeB.url, 'GET', `/api/messages/${ivy.jid}`, {
      auth: jack.basic,
    });
    expect(archive.body.map((message) => message.body)).not.toContain('across the bus');
  });

  it('delivers a chat message to a full JID on the other node to that resource only, archived once', async () => {
    const ivyBot = await online(nodeA, ivy, 'bot');
    const jackOne = await online(nodeB, jack, 'one', 5);
    const jackTwo = await online(nodeA, jack, 'two', 5);

    await ivyBot.xmpp.send(
      xml('message', { type: 'chat', to: `${jack.jid}/one` }, xml('body', {}, 'only for one')),
    );
    const got = await jackOne.waitFor((stanza) => bodyOf(stanza) === 'only for one');
    expect(got.attrs.to).toBe(`${jack.jid}/one`);
    // The bare-JID fallback would also reach "two"; a full JID must not.
    await ivyBot.xmpp.send(
      xml('message', { type: 'chat', to: jack.jid }, xml('body', {}, 'for both')),
    );
    await jackOne.waitFor((stanza) => bodyOf(stanza) === 'for both');
    await jackTwo.waitFor((stanza) => bodyOf(stanza) === 'for both');
    expect(jackTwo.stanzas.some((stanza) => bodyOf(stanza) === 'only for one')).toBe(false);

    const archive = await http<MessageView[]>(nodeA.url, 'GET', `/api/messages/${ivy.jid}`, {
      auth: jack.basic,
    });
    const bodies = archive.body.map((message) => message.body);
    expect(bodies.filter((body) => body === 'only for one')).toHaveLength(1);
    expect(bodies.filter((body) => body === 'for both')).toHaveLength(1);
  });
});
