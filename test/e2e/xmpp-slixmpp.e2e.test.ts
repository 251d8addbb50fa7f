import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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
import { hasSlixmpp, PYTHON, requireSlixmppInCi, warnIfNoSlixmpp } from '#test/helpers/slixmpp.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';
import { withTimeout, xmppPorts } from '#test/helpers/xmpp.js';

const SCRIPT = new URL('../interop/slixmpp-client.py', import.meta.url).pathname;
// Debian's python3-slixmpp is installed for the system interpreter, not for a user's pyenv.

warnIfNoSlixmpp('slixmpp interop');

interface ScriptEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

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

      const child = spawn(PYTHON, [
        SCRIPT,
        `${alice.jid}/slixmpp`,
        alice.password,
        '127.0.0.1',
        String(xmppPorts(server).c2s),
        'SCRAM-SHA-256',
        bob.jid,
        'hello from slixmpp',
      ]);
      const events: ScriptEvent[] = [];
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const waiters: {
        name: string;
        resolve: (event: ScriptEvent) => void;
        reject: (error: Error) => void;
      }[] = [];
      createInterface({ input: child.stdout }).on('line', (line) => {
        const event = JSON.parse(line) as ScriptEvent;
        events.push(event);
        waiters.filter((w) => w.name === event.event).forEach((w) => w.resolve(event));
      });
      child.on('exit', (code) => {
        if (!events.some((event) => event.event === 'done')) {
          // Fail fast with what the script said, rather than at a timeout.
          waiters.forEach((w) =>
            w.reject(new Error(`slixmpp exited ${code}: ${stderr.slice(-800)}`)),
          );
        }
      });
      const next = (name: string) =>
        withTimeout(
          new Promise<ScriptEvent>((resolve, reject) => {
            const seen = events.find((event) => event.event === name);
            if (seen === undefined) {
              waiters.push({ name, resolve, reject });
            } else {
              resolve(seen);
            }
          }),
          20_000,
          `slixmpp ${name}`,
        );

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
        expect(events.some((event) => event.event === 'failed_auth')).toBe(false);
      } finally {
        child.kill();
        bobSocket.disconnect();
      }
    },
    40_000,
  );
});
