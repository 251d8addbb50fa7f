import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import { http, registerUser, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import {
  connectXmpp,
  plainLogin,
  RawXmpp,
  streamHeader,
  xmppPorts,
  type TestXmppClient,
} from '#test/helpers/xmpp.js';

const STREAM_ERROR = /<stream:error>.*<\/stream:error><\/stream:stream>/s;

describe.skipIf(!servicesUp())('XMPP gateway: bad input ends that stream only', () => {
  let server: TestServer;
  let alice: TestUser;
  let bystander: TestXmppClient;
  const raws: RawXmpp[] = [];

  beforeAll(async () => {
    server = await startTestServer({ XMPP_REQUIRE_TLS: 'false', XMPP_MAX_STANZA_SIZE: '4096' });
    alice = await registerUser(server.url, server.domain, 'alice');
    const carol = await registerUser(server.url, server.domain, 'carol');
    bystander = await connectXmpp(server, carol);
  });

  afterAll(async () => {
    raws.forEach((raw) => raw.destroy());
    await bystander?.stop();
    await server?.stop();
  });

  async function raw(): Promise<RawXmpp> {
    const connection = await RawXmpp.connect(xmppPorts(server).c2s);
    raws.push(connection);

    return connection;
  }

  /** The logged-in bystander still gets answers: the server kept serving. */
  async function expectBystanderServed(): Promise<void> {
    const result = await bystander.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: server.domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      5000,
    );
    expect(result.attrs.type).toBe('result');
  }

  async function expectStreamError(connection: RawXmpp, condition: string): Promise<void> {
    const text = await connection.waitFor(STREAM_ERROR);
    expect(text).toMatch(
      new RegExp(`<stream:error><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`),
    );
    await connection.waitClosed();
    await expectBystanderServed();
  }

  async function authenticated(user: TestUser): Promise<RawXmpp> {
    const connection = await raw();
    await plainLogin(connection, server.domain, user);
    connection.send(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>",
    );
    await connection.waitFor(/<jid>[^<]+\/raw<\/jid>/);

    return connection;
  }

  it('refuses an entity declaration with restricted-xml', async () => {
    const connection = await raw();
    connection.send(
      `<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]>` +
        streamHeader(server.domain).slice(21),
    );

    await expectStreamError(connection, 'restricted-xml');
  });

  it('refuses an oversized stanza with policy-violation before it is complete', async () => {
    const connection = await raw();
    connection.send(streamHeader(server.domain));
    await connection.waitFor(/<\/stream:features>/);
    connection.send(`<message><body>${'x'.repeat(10_000)}`);

    await expectStreamError(connection, 'policy-violation');
  });

  it('refuses invalid XML mid-stream with not-well-formed', async () => {
    const connection = await authenticated(alice);
    connection.send('<message to="carol@x"><body>a & b</body></message>');

    await expectStreamError(connection, 'not-well-formed');
  });

  it('refuses a stanza closed by the wrong end tag, and neither delivers nor stores it', async () => {
    const connection = await authenticated(alice);
    const carol = `carol@${server.domain}`;
    connection.send(`<message to='${carol}' type='chat'><body>half-formed</body></iq>`);

    await expectStreamError(connection, 'not-well-formed');
    expect(bystander.stanzas.some((stanza) => stanza.getChildText('body') === 'half-formed')).toBe(
      false,
    );
    const archive = await http<MessageView[]>(server.url, 'GET', `/api/messages/${carol}`, {
      auth: alice.basic,
    });
    expect(archive.body.map((message) => message.body)).not.toContain('half-formed');
  });

  it('refuses a stanza before authentication with not-authorized', async () => {
    const connection = await raw();
    connection.send(streamHeader(server.domain));
    await connection.waitFor(/<\/stream:features>/);
    connection.send(`<message to='alice@${server.domain}'><body>hi</body></message>`);

    await expectStreamError(connection, 'not-authorized');
  });

  it('refuses a forged from with invalid-from', async () => {
    const connection = await authenticated(alice);
    connection.send(
      `<message from='carol@${server.domain}/x' to='carol@${server.domain}'><body>forged</body></message>`,
    );

    await expectStreamError(connection, 'invalid-from');
    expect(bystander.stanzas.some((stanza) => stanza.getChildText('body') === 'forged')).toBe(
      false,
    );
  });

  it('closes, without an error of its own, a stream the client ends with a stream error', async () => {
    const connection = await authenticated(alice);
    connection.reset();
    connection.send(
      "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    );

    await connection.waitClosed();
    expect(connection.text).toBe('</stream:stream>');
    await expectBystanderServed();
  });

  it('refuses a stream to a domain not served with host-unknown', async () => {
    const connection = await raw();
    connection.send(streamHeader('elsewhere.invalid'));

    await expectStreamError(connection, 'host-unknown');
  });

  it('answers a wrong SCRAM proof and an unknown user alike with not-authorized', async () => {
    const answers: string[] = [];
    for (const user of [
      { ...alice, password: 'wrong-password' },
      { ...alice, jid: `nobody@${server.domain}` },
    ]) {
      const error = await connectXmpp(server, user).then(
        () => undefined,
        (failure: unknown) => failure as Error & { condition?: string },
      );
      answers.push(error?.condition ?? String(error));
    }

    expect(answers).toEqual(['not-authorized', 'not-authorized']);
    await expectBystanderServed();
  });

  it('answers an IQ with an unknown payload with service-unavailable, exactly once', async () => {
    const connection = await authenticated(alice);
    connection.reset();
    connection.send("<iq type='get' id='u1'><query xmlns='urn:example:unknown'/></iq>");
    const text = await connection.waitFor(/<\/iq>/);

    expect(text).toMatch(/type="error"/);
    expect(text).toMatch(/<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    expect(text.match(/<iq /g)).toHaveLength(1);
  });

  it('answers a message to an unknown local user with service-unavailable', async () => {
    const connection = await authenticated(alice);
    connection.reset();
    connection.send(`<message id='n1' to='nobody@${server.domain}'><body>hi</body></message>`);
    const text = await connection.waitFor(/<\/message>/);

    expect(text).toMatch(/type="error"/);
    expect(text).toMatch(/<service-unavailable/);
  });
});
