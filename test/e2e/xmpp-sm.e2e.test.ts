import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ADMIN_AUTH, http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { bodies, plainLogin, RawXmpp, streamHeader, xmppPorts } from '#test/helpers/xmpp.js';

const SM = 'urn:xmpp:sm:3';
const STANZA = /<(message|presence|iq)[\s>/]/g;

/** Top-level stanzas received (these tests get no stanza nested in another). */
function stanzaCount(text: string): number {
  return text.match(STANZA)?.length ?? 0;
}

/**
 * Stream management (XEP-0198) on the wire, with a raw client that counts
 * exactly what it was sent: acks both ways, resumption after a dropped
 * connection with nothing lost and nothing twice, only by the owner, a
 * takeover of a stream still open, and the bounds on the wait and the queue.
 */
describe.skipIf(!servicesUp())('XMPP stream management (XEP-0198)', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const raws: RawXmpp[] = [];

  beforeAll(async () => {
    server = await startTestServer({ XMPP_REQUIRE_TLS: 'false' });
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    raws.forEach((raw) => raw.destroy());
    await server?.stop();
  });

  /** Logged in (PLAIN), with the post-authentication features read; `text` is reset after. */
  async function authenticated(on: TestServer, user: TestUser): Promise<RawXmpp> {
    const connection = await RawXmpp.connect(xmppPorts(on).c2s);
    raws.push(connection);
    await plainLogin(connection, on.domain, user);

    return connection;
  }

  /** Bound, stream management enabled with resumption, available; returns the resumption id. */
  async function managed(
    on: TestServer,
    user: TestUser,
    resource: string,
  ): Promise<{ connection: RawXmpp; id: string }> {
    const connection = await authenticated(on, user);
    connection.send(
      `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    await connection.waitFor(/<\/iq>/);
    connection.reset();
    connection.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await connection.waitFor(/<enabled [^>]*\/>/);
    const id = /<enabled [^>]*id="([^"]+)"/.exec(enabled)?.[1];
    expect(id).toBeDefined();
    connection.reset();
    connection.send(`<presence/><iq type='get' id='settle'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await connection.waitFor(/id="settle"/);

    return { connection, id: id! };
  }

  async function send(from: TestUser, to: TestUser, body: string): Promise<void> {
    const result = await sendMessage(server.url, from.basic, to.jid, body);
    expect(result.status).toBe(200);
  }

  it('offers the feature with binding, enables once after binding, and acks both ways', async () => {
    const pre = await RawXmpp.connect(xmppPorts(server).c2s);
    raws.push(pre);
    pre.send(streamHeader(server.domain));
    expect(await pre.waitFor(/<\/stream:features>/)).not.toContain(SM);

    const connection = await authenticated(server, alice);
    expect(connection.text).toContain(`<sm xmlns="${SM}"/>`);
    connection.send(`<enable xmlns='${SM}' resume='true'/>`);
    expect(await connection.waitFor(/<\/failed>/)).toMatch(
      /<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/,
    );
    connection.reset();
    connection.send(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>acks</resource></bind></iq>",
    );
    await connection.waitFor(/<\/iq>/);
    connection.send(`<enable xmlns='${SM}' resume='true' max='60'/>`);
    expect(await connection.waitFor(/<enabled /)).toMatch(
      /<enabled xmlns="urn:xmpp:sm:3" id="[\w-]{20,}" resume="true" max="60"\/>/,
    );
    connection.send(`<enable xmlns='${SM}'/>`);
    await connection.waitFor(/<failed/);
    connection.reset();

    // Three stanzas handled, errors included; the ack counts them.
    connection.send(
      `<iq type='get' id='p1' to='${server.domain}'><ping xmlns='urn:xmpp:ping'/></iq>` +
        `<iq type='get' id='p2' to='${server.domain}'><nothing xmlns='urn:x:none'/></iq>` +
        `<iq type='get' id='p3' to='${server.domain}'><ping xmlns='urn:xmpp:ping'/></iq>` +
        `<r xmlns='${SM}'/>`,
    );
    expect(await connection.waitFor(/<a [^>]*\/>/)).toContain(`<a xmlns="${SM}" h="3"/>`);
    // The server asks about the three answers it sent.
    await connection.waitFor(/<r xmlns="urn:xmpp:sm:3"\/>/, 4000);
    expect(stanzaCount(connection.text)).toBe(3);
    connection.send(`<a xmlns='${SM}' h='3'/>`);
    connection.send(`<a xmlns='${SM}' h='7'/>`);
    const error = await connection.waitFor(/<\/stream:error>/);
    expect(error).toContain('<undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    expect(error).toContain(`<handled-count-too-high xmlns="${SM}" h="7" send-count="3"/>`);
    await connection.waitClosed();
  });

  it('does not count a message sent before enabling, even when its commit settles after', async () => {
    // A user of its own: the other tests count alice's sessions.
    const carol = await registerUser(server.url, server.domain, 'carol');
    const connection = await authenticated(server, carol);
    connection.send(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>early</resource></bind></iq>",
    );
    await connection.waitFor(/<\/iq>/);
    connection.reset();
    // The message's archive commit is still running when <enable/> is handled (section 4).
    connection.send(
      `<message to='${bob.jid}' type='chat'><body>before enabling</body></message>` +
        `<enable xmlns='${SM}'/><r xmlns='${SM}'/>`,
    );

    expect(await connection.waitFor(/<a [^>]*\/>/)).toContain(`<a xmlns="${SM}" h="0"/>`);
  });

  it('resumes after a dropped connection: the unacknowledged and what came meanwhile, each once, in order', async () => {
    const { connection: first, id } = await managed(server, alice, 'phone');
    await send(bob, alice, 'm1');
    await send(bob, alice, 'm2');
    await first.waitFor(/m2<\/body>/);
    // The client acknowledges everything up to m1; m2 it has not got round to.
    const acked = stanzaCount(first.text.slice(0, first.text.indexOf('m2</body>'))) - 1;
    first.send(`<a xmlns='${SM}' h='${acked}'/>`);
    first.send(`<message to='${bob.jid}' type='chat'><body>from alice</body></message>`);
    first.send(`<r xmlns='${SM}'/>`);
    // Presence, the settle ping and the message: three handled.
    expect(await first.waitFor(/<a [^>]*\/>/)).toContain('h="3"');
    first.destroy();

    for (const body of ['m3', 'm4', 'm5']) {
      await send(bob, alice, body);
    }
    const sessions = await http<unknown[]>(
      server.url,
      'GET',
      `/api/admin/sessions/${server.domain}/alice`,
      { auth: ADMIN_AUTH },
    );
    // Waiting for resumption, still online and routed to.
    expect(sessions.body).toHaveLength(1);

    // Bob cannot resume Alice's session: it does not exist, as far as he is told.
    const intruder = await authenticated(server, bob);
    intruder.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect(await intruder.waitFor(/<\/failed>/)).toMatch(
      /<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/,
    );

    const second = await authenticated(server, alice);
    second.send(`<resume xmlns='${SM}' previd='${id}' h='${acked}'/>`);
    await second.waitFor(/m5<\/body>/);
    expect(second.text).toMatch(new RegExp(`<resumed xmlns="${SM}" previd="${id}" h="3"/>`));
    expect(second.text.indexOf('<resumed')).toBeLessThan(second.text.indexOf('<message'));
    await send(bob, alice, 'm6');
    await second.waitFor(/m6<\/body>/);
    expect(bodies(second.text)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    // The resumed stream goes on counting from where the first one stopped.
    second.send(`<r xmlns='${SM}'/>`);
    expect(await second.waitFor(/<a [^>]*\/>/)).toContain('h="3"');
    // Bob got Alice's message once, though the client never heard it was handled before the drop.
    const archive = await http<{ body: string }[]>(
      server.url,
      'GET',
      `/api/messages/${alice.jid}`,
      { auth: bob.basic },
    );
    expect(archive.body.filter((message) => message.body === 'from alice')).toHaveLength(1);
    second.send('</stream:stream>');
    await second.waitClosed();

    // A stream closed cleanly leaves nothing to resume.
    const third = await authenticated(server, alice);
    third.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect(await third.waitFor(/<\/failed>/)).toContain('<item-not-found');
  });

  it('takes a session over from a stream that is still open', async () => {
    const { connection: old, id } = await managed(server, alice, 'laptop');
    await send(bob, alice, 't1');
    await old.waitFor(/t1<\/body>/);
    const before = old.text.slice(0, old.text.indexOf('<message'));

    const fresh = await authenticated(server, alice);
    fresh.send(`<resume xmlns='${SM}' previd='${id}' h='${stanzaCount(before)}'/>`);
    await fresh.waitFor(/t1<\/body>/);
    expect(fresh.text).toContain('<resumed ');
    expect(await old.waitFor(/<\/stream:error>/)).toContain(
      '<conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>',
    );
    await old.waitClosed();
    await send(bob, alice, 't2');
    await fresh.waitFor(/t2<\/body>/);
    // Everything the old stream got was unacknowledged (offline messages of the earlier test
    // included): replayed once, then the new message.
    expect(bodies(old.text).at(-1)).toBe('t1');
    expect(bodies(fresh.text)).toEqual([...bodies(old.text), 't2']);
    fresh.send('</stream:stream>');
    await fresh.waitClosed();
  });

  it('ends a waiting session when a new one binds its resource', async () => {
    const { connection, id } = await managed(server, alice, 'desk');
    connection.destroy();
    const replacement = await authenticated(server, alice);
    replacement.send(
      "<iq type='set' id='b3'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>",
    );
    await replacement.waitFor(/<\/iq>/);

    const late = await authenticated(server, alice);
    late.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect(await late.waitFor(/<\/failed>/)).toContain('<item-not-found');
    const sessions = await http<{ jid: string }[]>(
      server.url,
      'GET',
      `/api/admin/sessions/${server.domain}/alice`,
      { auth: ADMIN_AUTH },
    );
    expect(sessions.body.map((session) => session.jid)).toEqual([`${alice.jid}/desk`]);
    replacement.send('</stream:stream>');
    late.destroy();
  });

  describe('with a short wait and a small queue', () => {
    let short: TestServer;
    let carol: TestUser;
    let dave: TestUser;

    beforeAll(async () => {
      short = await startTestServer({
        XMPP_REQUIRE_TLS: 'false',
        XMPP_SM_RESUME_TIMEOUT_SECONDS: '2',
        XMPP_SM_MAX_UNACKED: '10',
      });
      carol = await registerUser(short.url, short.domain, 'carol');
      dave = await registerUser(short.url, short.domain, 'dave');
    });

    afterAll(async () => {
      await short?.stop();
    });

    async function post(from: TestUser, to: TestUser, body: string): Promise<void> {
      const result = await sendMessage(short.url, from.basic, to.jid, body);
      expect(result.status).toBe(200);
    }

    it('ends a session whose time runs out; what it missed comes as offline messages', async () => {
      const { connection, id } = await managed(short, carol, 'phone');
      expect(bodies(connection.text)).not.toContain('c1');
      connection.destroy();
      await post(dave, carol, 'c1');
      // Carol answers from another device in between: her reply must not hide c2 and c3.
      await post(carol, dave, 'reply');
      await post(dave, carol, 'c2');
      await post(dave, carol, 'c3');
      await new Promise((resolve) => setTimeout(resolve, 2500));

      const late = await authenticated(short, carol);
      late.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
      expect(await late.waitFor(/<\/failed>/)).toContain('<item-not-found');
      late.send(
        "<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>",
      );
      await late.waitFor(/<\/iq>/);
      late.send(`<presence/>`);
      await late.waitFor(/c3<\/body>/);
      expect(bodies(late.text)).toEqual(['c1', 'c2', 'c3']);
      expect(late.text).toMatch(/<delay xmlns="urn:xmpp:delay"/);
      late.send('</stream:stream>');
      await late.waitClosed();
    });

    it('ends a waiting session whose queue passes the bound, and a live one that never acknowledges', async () => {
      const { connection, id } = await managed(short, carol, 'tablet');
      connection.destroy();
      for (let n = 0; n < 11; n++) {
        await post(dave, carol, `q${n}`);
      }
      const late = await authenticated(short, carol);
      late.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
      expect(await late.waitFor(/<\/failed>/)).toContain('<item-not-found');
      late.destroy();

      const { connection: deaf } = await managed(short, carol, 'deaf');
      for (let n = 0; n < 11; n++) {
        await post(dave, carol, `d${n}`);
      }
      expect(await deaf.waitFor(/<\/stream:error>/)).toContain(
        '<resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>',
      );
      await deaf.waitClosed();
    });
  });
});
