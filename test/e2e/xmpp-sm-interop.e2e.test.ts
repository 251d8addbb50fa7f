import type { Socket } from 'node:net';

import { client, xml, type Client } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ADMIN_AUTH, http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import {
  hasSlixmpp,
  requireSlixmppInCi,
  SlixmppScript,
  warnIfNoSlixmpp,
} from '#test/helpers/slixmpp.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { withTimeout, xmppPorts } from '#test/helpers/xmpp.js';

const SCRIPT = new URL('../interop/slixmpp-sm-client.py', import.meta.url).pathname;

warnIfNoSlixmpp('slixmpp resumption');

/** What xmpp.js exposes of its XEP-0198 state. */
interface StreamManagementState {
  id: string;
  enabled: boolean;
  on(event: 'resumed', listener: () => void): void;
}

/** Resolves once `predicate` holds, checking every 20 ms. */
async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve) => {
      const check = () => (predicate() ? resolve() : setTimeout(check, 20));
      check();
    }),
    ms,
    what,
  );
}

/**
 * Stream management with real clients: xmpp.js (`@xmpp/client`, which
 * enables and resumes on its own) and slixmpp's xep_0198 plugin, each
 * losing its TCP connection while messages are sent to it, then resuming:
 * every message arrives, none twice.
 */
describe.skipIf(!servicesUp())('XMPP stream management interop', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
    carol = await registerUser(server.url, server.domain, 'carol');
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function post(from: TestUser, to: TestUser, body: string): Promise<void> {
    const result = await sendMessage(server.url, from.basic, to.jid, body);
    expect(result.status).toBe(200);
  }

  function xmppClient(user: TestUser, resource: string): { xmpp: Client; bodies: string[] } {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${xmppPorts(server).c2s}`,
      domain: server.domain,
      username: user.jid.split('@')[0],
      password: user.password,
      resource,
    });
    const bodies: string[] = [];
    xmpp.on('stanza', (stanza) => {
      const body = stanza.is('message') ? stanza.getChildText('body') : null;
      if (body !== null) {
        bodies.push(body);
      }
    });
    xmpp.on('error', () => undefined);

    return { xmpp, bodies };
  }

  async function sessionsOf(user: TestUser): Promise<unknown[]> {
    const [local] = user.jid.split('@');
    const result = await http<unknown[]>(
      server.url,
      'GET',
      `/api/admin/sessions/${server.domain}/${local}`,
      { auth: ADMIN_AUTH },
    );

    return result.body;
  }

  it('xmpp.js resumes after its TCP connection drops, and nobody else can resume its session', async () => {
    const { xmpp, bodies } = xmppClient(alice, 'phone');
    const sm = (xmpp as unknown as { streamManagement: StreamManagementState }).streamManagement;
    let resumed = 0;
    sm.on('resumed', () => (resumed += 1));
    await withTimeout(xmpp.start(), 10_000, 'alice login');
    await until(() => sm.enabled && sm.id !== '', 'stream management enabled');
    await xmpp.send(xml('presence'));
    await post(bob, alice, 'before 1');
    await until(() => bodies.includes('before 1'), 'a live message');

    // Carol, logged in as herself, presents Alice's id: refused, and she binds her own session.
    const intruder = xmppClient(carol, 'intruder');
    const intruderSm = (intruder.xmpp as unknown as { streamManagement: StreamManagementState })
      .streamManagement;
    let intruderResumed = 0;
    intruderSm.on('resumed', () => (intruderResumed += 1));
    intruderSm.id = sm.id;
    intruder.xmpp.reconnect.stop();
    const carolJid = await withTimeout(intruder.xmpp.start(), 10_000, 'carol login');
    expect(carolJid.toString()).toBe(`${carol.jid}/intruder`);
    expect(intruderResumed).toBe(0);
    await intruder.xmpp.stop();

    // The TCP connection dies under the client; the session waits on the server.
    // xmpp.js wraps the TCP (after STARTTLS, the TLS) socket.
    (xmpp as unknown as { socket: { socket: Socket } }).socket.socket.destroy();
    for (let n = 1; n <= 5; n++) {
      await post(bob, alice, `while down ${n}`);
    }
    expect(await sessionsOf(alice)).toHaveLength(1);
    await until(() => resumed === 1, 'resumption', 15_000);
    await post(bob, alice, 'after');
    await until(() => bodies.includes('after'), 'a message after resumption');

    // xmpp.js has no stanza-id dedup of its own: what it saw is what the server sent.
    const gap = [1, 2, 3, 4, 5].map((n) => `while down ${n}`);
    expect(bodies).toEqual(['before 1', ...gap, 'after']);
    expect(await sessionsOf(alice)).toHaveLength(1);
    xmpp.reconnect.stop();
    await xmpp.stop();
  }, 40_000);

  requireSlixmppInCi();

  it.runIf(hasSlixmpp)(
    'slixmpp resumes after its TCP connection drops, with what was sent meanwhile once each',
    async () => {
      const script = new SlixmppScript(SCRIPT, [
        `${bob.jid}/slixmpp`,
        bob.password,
        '127.0.0.1',
        String(xmppPorts(server).c2s),
      ]);
      const seen = (name: string) => script.events.some((event) => event.event === name);
      const bodies = () =>
        script.events.filter((event) => event.event === 'message').map((event) => event.body);
      try {
        await script.next('ready');
        await script.next('sm_enabled');
        await post(alice, bob, 'live');
        await until(() => bodies().includes('live'), 'a live message');

        script.child.stdin.write('drop\n');
        await script.next('dropped');
        for (let n = 1; n <= 4; n++) {
          await post(alice, bob, `gap ${n}`);
        }
        await script.next('resumed');
        await post(alice, bob, 'resumed');
        await until(() => bodies().includes('resumed'), 'a message after resumption');

        expect(bodies()).toEqual(['live', 'gap 1', 'gap 2', 'gap 3', 'gap 4', 'resumed']);
        expect(seen('sm_failed')).toBe(false);
        script.child.stdin.write('quit\n');
        await script.next('done');
      } finally {
        script.child.kill();
      }
    },
    60_000,
  );
});
