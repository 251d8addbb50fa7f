import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  attrOf,
  childText,
  elementName,
  ScramKeyCache,
  XmppLoadClient,
  type XmppLoadClientOptions,
} from '../../bench/lib/xmpp-load-client.mjs';
import { registerUser, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { xmppPorts } from '#test/helpers/xmpp.js';

/**
 * The benchmark's own raw-TCP client (bench/xmpp.bench.mjs) against our
 * server: its figures mean something only if its logins and messages are
 * the real thing.
 */
describe.skipIf(!servicesUp())('XMPP benchmark load client', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const clients: XmppLoadClient[] = [];
  const keyCache = new ScramKeyCache();

  beforeAll(async () => {
    server = await startTestServer({ XMPP_REQUIRE_TLS: 'false' });
    alice = await registerUser(server.url, server.domain, 'alice', 'alice-password');
    bob = await registerUser(server.url, server.domain, 'bob', 'bob-password');
  });

  afterAll(async () => {
    clients.forEach((client) => client.destroy());
    await server?.stop();
  });

  function loadClient(user: TestUser, options: Partial<XmppLoadClientOptions>): XmppLoadClient {
    const client = new XmppLoadClient({
      host: '127.0.0.1',
      port: xmppPorts(server).c2s,
      domain: server.domain,
      username: user.jid.split('@')[0]!,
      password: `${user.jid.split('@')[0]!}-password`,
      keyCache,
      timeoutMs: 10_000,
      ...options,
    });
    clients.push(client);

    return client;
  }

  it('logs in with SCRAM-SHA-1 over STARTTLS and plain TCP, the second time from cached keys', async () => {
    const overTls = loadClient(alice, { starttls: true, resource: 'tls' });
    expect(await overTls.login()).toBe(`${alice.jid}/tls`);
    const plain = loadClient(alice, { starttls: false, resource: 'plain' });
    expect(await plain.login()).toBe(`${alice.jid}/plain`);

    expect({ derived: keyCache.misses, reused: keyCache.hits }).toEqual({ derived: 1, reused: 1 });
  });

  it('refuses a wrong password, with PLAIN as with SCRAM', async () => {
    await expect(
      loadClient(bob, { password: 'wrong', mechanism: 'PLAIN' }).login(),
    ).rejects.toThrow(/authentication failed/);
    await expect(loadClient(bob, { password: 'wrong', resource: 'x' }).login()).rejects.toThrow(
      /authentication failed/,
    );
  });

  it('delivers a message from one load client to the other with its body intact', async () => {
    const sender = loadClient(alice, { mechanism: 'PLAIN', resource: 'sender' });
    const receiver = loadClient(bob, { resource: 'receiver' });
    await Promise.all([sender.login(), receiver.login()]);
    const received = new Promise<string>((resolve) => {
      receiver.onStanza = (xml) => {
        if (elementName(xml) === 'message') {
          resolve(xml);
        }
      };
    });

    sender.sendMessage(bob.jid, '7:42:1234.5 &amp; more');

    const stanza = await received;
    expect(childText(stanza, 'body')).toBe('7:42:1234.5 & more');
    expect(attrOf(stanza, 'from')?.split('/')[0]).toBe(alice.jid);
  });

  it('with --sm, enables stream management and counts acks the way the server does', async () => {
    const sender = loadClient(alice, { resource: 'sm-sender', ackEvery: 5 });
    const receiver = loadClient(bob, { resource: 'sm-receiver', ackEvery: 5 });
    await Promise.all([sender.login(), receiver.login()]);
    const bodies: string[] = [];
    receiver.onStanza = (xml) => {
      if (elementName(xml) === 'message') {
        bodies.push(childText(xml, 'body') ?? '');
      }
    };
    // Presence and the settle ping were the first two stanzas; eight more make ten, two requests.
    for (let n = 0; n < 8; n++) {
      sender.sendMessage(bob.jid, `sm ${n}`);
    }
    const deadline = Date.now() + 5000;
    while ((sender.sm!.answered < 2 || bodies.length < 8) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    expect(sender.sm).toMatchObject({ sent: 10, requested: 2, answered: 2, acked: 10 });
    expect(bodies).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => `sm ${n}`));
    // The server asks the receiver about what it sent, and hears its count.
    while (receiver.sm!.acksSent === 0 && Date.now() < deadline + 3000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(receiver.sm!.acksSent).toBeGreaterThan(0);
  });
});
