import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import {
  connectSocket,
  EventRecorder,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

const HTTPBIND = 'http://jabber.org/protocol/httpbind';
const BODY = `xmlns='${HTTPBIND}' xmlns:xmpp='urn:xmpp:xbosh'`;

/** A raw BOSH client: one POST per body, the answer as text. */
class RawBosh {
  sid = '';
  rid = 1_000_000 + Math.floor(Math.random() * 1000);

  constructor(private readonly url: string) {}

  async post(text: string): Promise<string> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: text,
    });
    expect(response.status).toBe(200);

    return response.text();
  }

  /** Sends the next rid with `attrs` and `payload`. */
  next(payload = '', attrs = ''): Promise<string> {
    this.rid += 1;

    return this.post(
      `<body ${BODY} rid='${this.rid}' sid='${this.sid}' ${attrs}>${payload}</body>`,
    );
  }

  async create(domain: string, wait = 10): Promise<string> {
    const text = await this.post(
      `<body ${BODY} rid='${this.rid}' to='${domain}' wait='${wait}' hold='1' xmpp:version='1.0' ver='1.11' content='text/xml; charset=utf-8'/>`,
    );
    this.sid = /sid="([^"]+)"/.exec(text)?.[1] ?? '';

    return text;
  }

  /** Session, SASL PLAIN, restart and bind, with initial presence. */
  async login(domain: string, user: TestUser, resource: string): Promise<string> {
    await this.create(domain);
    const [local] = user.jid.split('@');
    const plain = Buffer.from(`\0${local}\0${user.password}`).toString('base64');
    let text = await this.next(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`,
    );
    expect(text).toContain('<success');
    text = await this.next('', `to='${domain}' xmpp:restart='true'`);
    expect(text).toContain('urn:ietf:params:xml:ns:xmpp-bind');
    // No XEP-0198 over BOSH: its requests are acknowledged by rid already.
    expect(text).not.toContain('urn:xmpp:sm:3');
    text = await this.next(
      `<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    expect(text).toContain(`<jid>${user.jid}/${resource}</jid>`);

    return text;
  }
}

describe.skipIf(!servicesUp())('BOSH (XEP-0124, XEP-0206) at /http-bind', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let url: string;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
    url = `${server.url}/http-bind`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('creates a session with the XEP-0124 attributes and the stream features', async () => {
    const bosh = new RawBosh(url);
    const text = await bosh.create(server.domain, 30);

    expect(bosh.sid).not.toBe('');
    expect(text).toMatch(/wait="30"/);
    expect(text).toMatch(/hold="1"/);
    expect(text).toMatch(/requests="2"/);
    expect(text).toMatch(/inactivity="\d+"/);
    expect(text).toMatch(/xmpp:version="1.0"/);
    expect(text).toMatch(new RegExp(`from="${server.domain}"`));
    expect(text).toContain('<stream:features>');
    expect(text).toContain('<mechanism>SCRAM-SHA-256</mechanism>');
  });

  it('logs in, sends a message to socket.io, and long-polls one from REST', async () => {
    const bobSocket = await connectSocket(server.url, { token: await tokenFor(server.url, bob) });
    const received = new EventRecorder<MessageView>(bobSocket, 'message');
    const bosh = new RawBosh(url);
    await bosh.login(server.domain, alice, 'web');

    await bosh.next(
      `<presence xmlns='jabber:client'/><message xmlns='jabber:client' to='${bob.jid}' type='chat'><body>over BOSH</body></message>`,
    );
    const [live] = await received.waitFor(1);
    expect(live).toMatchObject({ from: alice.jid, body: 'over BOSH' });

    // An empty request is held until something arrives for the session.
    const poll = bosh.next();
    const sent = await sendMessage(server.url, bob.basic, alice.jid, 'to BOSH');
    const text = await poll;
    expect(text).toContain('<body>to BOSH</body>');
    expect(text).toContain(`id="${sent.body.id}"`);
    bobSocket.disconnect();
  });

  it('answers a repeated rid with the same response, and refuses rids outside the window', async () => {
    const bosh = new RawBosh(url);
    await bosh.login(server.domain, alice, 'recover');
    const ping = `<iq xmlns='jabber:client' type='get' id='p1' to='${server.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`;
    const first = await bosh.next(ping);
    expect(first).toContain('id="p1"');

    // The response was "lost": the client sends the same rid again and gets it again.
    const again = await bosh.post(
      `<body ${BODY} rid='${bosh.rid}' sid='${bosh.sid}'>${ping}</body>`,
    );
    expect(again).toBe(first);

    const far = await bosh.post(`<body ${BODY} rid='${bosh.rid + 10}' sid='${bosh.sid}'/>`);
    expect(far).toMatch(/type="terminate"/);
    expect(far).toMatch(/condition="item-not-found"/);
    // The session is gone now.
    const after = await bosh.next();
    expect(after).toMatch(/condition="item-not-found"/);
  });

  it('takes requests that arrive out of order in rid order, with ack on the older answer', async () => {
    const bosh = new RawBosh(url);
    await bosh.login(server.domain, alice, 'order');
    const base = bosh.rid;
    const later = bosh.post(
      `<body ${BODY} rid='${base + 2}' sid='${bosh.sid}'><iq xmlns='jabber:client' type='get' id='second' to='${server.domain}'><ping xmlns='urn:xmpp:ping'/></iq></body>`,
    );
    const earlier = bosh.post(
      `<body ${BODY} rid='${base + 1}' sid='${bosh.sid}'><iq xmlns='jabber:client' type='get' id='first' to='${server.domain}'><ping xmlns='urn:xmpp:ping'/></iq></body>`,
    );
    const texts = (await Promise.all([earlier, later])).join('');
    expect(texts.indexOf('id="first"')).toBeGreaterThan(-1);
    expect(texts.indexOf('id="first"')).toBeLessThan(texts.indexOf('id="second"'));
    expect(texts).toMatch(new RegExp(`ack="${base + 2}"`));
  });

  it('answers an idle request when wait runs out, and ends the session on terminate', async () => {
    const bosh = new RawBosh(url);
    await bosh.create(server.domain, 1);
    const started = Date.now();
    const empty = await bosh.next();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(empty).toMatch(/^<body [^>]*\/>$/);

    const ended = await bosh.next('', "type='terminate'");
    expect(ended).toMatch(/type="terminate"/);
    expect(await bosh.next()).toMatch(/condition="item-not-found"/);
  });

  it('refuses malformed bodies and unknown sessions with terminal conditions', async () => {
    const bosh = new RawBosh(url);
    expect(await bosh.post('<body xmlns="wrong"/>')).toMatch(/condition="bad-request"/);
    expect(await bosh.post(`<body ${BODY} rid='1' sid='nope'/>`)).toMatch(
      /condition="item-not-found"/,
    );
    expect(await bosh.post(`<!DOCTYPE x><body ${BODY} rid='1' to='${server.domain}'/>`)).toMatch(
      /condition="bad-request"/,
    );
    // A stream error inside the session ends it with remote-stream-error and the stream error.
    await bosh.create(server.domain);
    const text = await bosh.next(
      `<message xmlns='jabber:client' to='${bob.jid}'><body>x</body></message>`,
    );
    expect(text).toMatch(/condition="remote-stream-error"/);
    expect(text).toContain('<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
  });
});
