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
import {
  hasSlixmpp,
  requireSlixmppInCi,
  SlixmppScript,
  warnIfNoSlixmpp,
} from '#test/helpers/slixmpp.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { xmppPorts } from '#test/helpers/xmpp.js';

const SCRIPT = new URL('../interop/slixmpp-client.py', import.meta.url).pathname;
// Debian's python3-slixmpp is installed for the system interpreter, not for a user's pyenv.

warnIfNoSlixmpp('slixmpp interop');

describe.skipIf(!servicesUp())('XMPP interop with slixmpp (python3-slixmpp)', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    await server?.stop();
  });

  requireSlixmppInCi();

  it.runIf(hasSlixmpp)(
    'logs in with SCRAM over STARTTLS, reads the roster, and exchanges messages with socket.io',
    async () => {
      const added = await http(server.url, 'POST', '/api/contacts', {
        auth: alice.basic,
        json: { jid: bob.jid, name: 'Bob' },
      });
      expect(added.status).toBe(201);
      const bobSocket = await connectSocket(server.url, { token: await tokenFor(server.url, bob) });
      const received = new EventRecorder<MessageView>(bobSocket, 'message');

      const script = new SlixmppScript(SCRIPT, [
        `${alice.jid}/slixmpp`,
        alice.password,
        '127.0.0.1',
        String(xmppPorts(server).c2s),
        'SCRAM-SHA-256',
        bob.jid,
        'hello from slixmpp',
      ]);
      const next = (name: string) => script.next(name);

      try {
        await next('auth_success');
        const roster = await next('roster');
        expect(roster.items).toEqual({ [bob.jid]: { subscription: 'none', name: 'Bob' } });
        const ready = await next('ready');
        expect(ready.jid).toBe(`${alice.jid}/slixmpp`);
        const [live] = await received.waitFor(1, 10_000);
        expect(live).toMatchObject({ from: alice.jid, to: bob.jid, body: 'hello from slixmpp' });

        await sendMessage(server.url, bob.basic, alice.jid, 'hello from REST');
        const message = await next('message');
        expect(message).toMatchObject({ sender: bob.jid, body: 'hello from REST' });
        await next('done');
        expect(script.events.some((event) => event.event === 'failed_auth')).toBe(false);
      } finally {
        script.child.kill();
        bobSocket.disconnect();
      }
    },
    40_000,
  );

  it.runIf(hasSlixmpp)(
    'gets a message sent while it was offline once, and not again at its next login',
    async () => {
      const carol = await registerUser(server.url, server.domain, 'carol');
      const login = () =>
        new SlixmppScript(SCRIPT, [
          `${carol.jid}/slixmpp`,
          carol.password,
          '127.0.0.1',
          String(xmppPorts(server).c2s),
          'SCRAM-SHA-1',
          // Not to Bob: a reply would mark his messages read, and hide a repeat.
          alice.jid,
          'hello from carol',
        ]);
      expect(
        (await sendMessage(server.url, bob.basic, carol.jid, 'while you were away')).status,
      ).toBe(200);

      // The script stops at the first message it receives.
      const first = login();
      try {
        await first.next('ready');
        expect(await first.next('message')).toMatchObject({
          sender: bob.jid,
          body: 'while you were away',
        });
        await first.next('done');
      } finally {
        first.child.kill();
      }

      const second = login();
      try {
        await second.next('ready');
        // Time for a repeat of the offline message to arrive first, if the server sent one.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await sendMessage(server.url, bob.basic, carol.jid, 'welcome back');
        expect(await second.next('message')).toMatchObject({
          sender: bob.jid,
          body: 'welcome back',
        });
        await second.next('done');
      } finally {
        second.child.kill();
      }
    },
    60_000,
  );
});
