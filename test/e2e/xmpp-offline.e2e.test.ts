import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { OFFLINE_MARGIN_MS } from '#src/presence/offline-marks.service.js';
import { ADMIN_AUTH, http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { servicesUp, TEST_DATABASE_URL } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { bodies, plainLogin, RawXmpp, xmppPorts } from '#test/helpers/xmpp.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Offline messages (RFC 6121 section 8.5.2.1.1, XEP-0160) as an XMPP user
 * expects them: what arrived while no session of the user was available
 * comes once, to the first available session, marked with its delay; what a
 * session received live, or another client displayed, is not offered again.
 */
describe.skipIf(!servicesUp())('XMPP offline messages', () => {
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

  /**
   * Logged in, bound and presence sent; returns once the server answered a
   * ping sent after the presence, so any offline message came before it.
   */
  async function online(user: TestUser, presence = '<presence/>'): Promise<RawXmpp> {
    const connection = await RawXmpp.connect(xmppPorts(server).c2s);
    raws.push(connection);
    await plainLogin(connection, server.domain, user);
    connection.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    await connection.waitFor(/<\/iq>/);
    connection.reset();
    connection.send(`${presence}<iq type='get' id='settle'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await connection.waitFor(/id="settle"/);

    return connection;
  }

  async function close(connection: RawXmpp): Promise<void> {
    connection.send('</stream:stream>');
    await connection.waitClosed();
  }

  /** Waits until the user has no session left anywhere (the last close has been handled). */
  function gone(user: TestUser): Promise<void> {
    return sessionsLeft(user, 0);
  }

  /** Waits until the user has `count` sessions left anywhere and the last close has been handled. */
  async function sessionsLeft(user: TestUser, count: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const sessions = await http<unknown[]>(
        server.url,
        'GET',
        `/api/admin/sessions/${server.domain}/${user.jid.split('@')[0]}`,
        { auth: ADMIN_AUTH },
      );
      if (sessions.status === 200 && sessions.body.length === count) {
        // A close's offline mark is written right after the session leaves the registry.
        await pause(200);

        return;
      }
      await pause(50);
    }
    throw new Error(`${user.jid} does not have ${count} sessions`);
  }

  async function post(from: TestUser, to: TestUser, body: string): Promise<string> {
    const result = await sendMessage(server.url, from.basic, to.jid, body);
    expect(result.status).toBe(200);

    return result.body.id;
  }

  it('delivers what came before the first login once, with its delay, and not at the next login', async () => {
    await post(bob, alice, 'o1');
    await post(bob, alice, 'o2');

    const first = await online(alice);
    expect(bodies(first.text)).toEqual(['o1', 'o2']);
    expect(first.text).toMatch(/<delay xmlns="urn:xmpp:delay" from="[^"]+" stamp="/);
    await close(first);
    await gone(alice);

    const second = await online(alice);
    expect(bodies(second.text)).toEqual([]);
    await close(second);
    await gone(alice);
  });

  it('offers only what arrived while no session was available, not what one received live', async () => {
    const live = await online(alice);
    await post(bob, alice, 'l1');
    await live.waitFor(/l1<\/body>/);
    // Past the margin that covers a message still on its way when the last session closes.
    await pause(OFFLINE_MARGIN_MS + 200);
    await close(live);
    await gone(alice);
    await post(bob, alice, 'l2');

    const next = await online(alice);
    expect(bodies(next.text)).toEqual(['l2']);
    await close(next);
    await gone(alice);
  });

  it('gives them to the first available session only, and none to one of negative priority', async () => {
    await post(bob, alice, 'f1');
    const negative = await online(alice, '<presence><priority>-1</priority></presence>');
    expect(bodies(negative.text)).toEqual([]);

    const first = await online(alice);
    expect(bodies(first.text)).toEqual(['f1']);
    const second = await online(alice);
    expect(bodies(second.text)).toEqual([]);
    // The session that took them closes last: its start bounds the next mark.
    await close(negative);
    await close(second);
    await close(first);
    await gone(alice);
  });

  it('does not offer what another client marked displayed meanwhile', async () => {
    const read = await post(bob, alice, 'd1');
    await post(bob, alice, 'd2');
    const marked = await http(server.url, 'POST', `/api/messages/${read}/markers`, {
      auth: alice.basic,
      json: { type: 'displayed' },
    });
    expect(marked.status).toBe(204);

    const connection = await online(alice);
    expect(bodies(connection.text)).toEqual(['d2']);
    await close(connection);
    await gone(alice);
  });

  it('offers again what a session with stream management never acknowledged', async () => {
    const connection = await RawXmpp.connect(xmppPorts(server).c2s);
    raws.push(connection);
    await plainLogin(connection, server.domain, alice);
    connection.send(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>" +
        "<enable xmlns='urn:xmpp:sm:3'/><presence/>" +
        "<iq type='get' id='settle'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    await connection.waitFor(/id="settle"/);
    await post(bob, alice, 's1');
    await connection.waitFor(/s1<\/body>/);
    // Long enough that only the missing acknowledgement, not the closing margin, can bring it back.
    await pause(OFFLINE_MARGIN_MS + 200);
    await close(connection);
    await gone(alice);

    const next = await online(alice);
    expect(bodies(next.text)).toEqual(['s1']);
    expect(next.text).toMatch(/<delay xmlns="urn:xmpp:delay"/);
    await close(next);
    await gone(alice);
  });

  it('offers what came while the only session was unavailable when it is available again', async () => {
    const connection = await online(alice);
    connection.send(
      "<presence type='unavailable'/><iq type='get' id='u1'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    await connection.waitFor(/id="u1"/);
    await post(bob, alice, 'u2');
    connection.reset();
    connection.send("<presence/><iq type='get' id='u3'><ping xmlns='urn:xmpp:ping'/></iq>");
    await connection.waitFor(/id="u3"/);
    expect(bodies(connection.text)).toEqual(['u2']);
    await close(connection);
    await gone(alice);
  });

  it('keeps what comes while the only resource has a negative priority, and offers it when the priority rises', async () => {
    const carol = await registerUser(server.url, server.domain, 'carol');
    const connection = await online(carol);
    connection.send(
      "<presence><priority>-1</priority></presence><iq type='get' id='n1'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    await connection.waitFor(/id="n1"/);
    // RFC 6121 section 8.5.2.1: to the bare JID, a negative priority gets nothing live.
    await post(bob, carol, 'n2');
    connection.reset();
    connection.send(
      "<presence><priority>1</priority></presence><iq type='get' id='n3'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    await connection.waitFor(/id="n3"/);
    expect(bodies(connection.text)).toEqual(['n2']);
    expect(connection.text).toMatch(/<delay xmlns="urn:xmpp:delay"/);
    await close(connection);
    await gone(carol);
  });

  it('counts what comes as offline once the last receiving session closes beside one of negative priority', async () => {
    const dave = await registerUser(server.url, server.domain, 'dave');
    const negative = await online(dave, '<presence><priority>-1</priority></presence>');
    const receiving = await online(dave);
    await close(receiving);
    await sessionsLeft(dave, 1);
    await post(bob, dave, 'p1');

    const next = await online(dave);
    expect(bodies(next.text)).toEqual(['p1']);
    expect(bodies(negative.text)).toEqual([]);
    await close(next);
    await close(negative);
    await gone(dave);
  });

  it('offers every unread message when the sessions that took the mark vanished without closing', async () => {
    await post(bob, alice, 'k1');
    // What a crash leaves: the mark taken by a session that never closed, and no session left.
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      await db.query(
        `UPDATE offline_marks SET since = NULL
         WHERE user_id = (SELECT id FROM users WHERE username = 'alice' AND domain = $1)`,
        [server.domain],
      );
    } finally {
      await db.end();
    }

    const connection = await online(alice);
    // Every message after the one displayed earlier (d1), whether or not a session had it.
    expect(bodies(connection.text)).toEqual(['d2', 's1', 'u2', 'k1']);
    await close(connection);
    await gone(alice);
  });
});
