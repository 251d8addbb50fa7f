import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectReceiver } from '../../bench/lib/socket-receiver.mjs';
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

/** Waits, with a bound, until `done()` holds. */
async function waitUntil(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within 5000 ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The messaging benchmark's receivers (bench/lib/socket-receiver.mjs) speak
 * socket.io's protocol themselves: they must see exactly what
 * socket.io-client sees, or the benchmark's delivery counts mean nothing.
 */
describe.skipIf(!servicesUp())('benchmark socket.io receiver', () => {
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

  it('receives the events socket.io-client receives, parsed alike, and only those asked for', async () => {
    const token = await tokenFor(server.url, bob);
    const reference = await connectSocket(server.url, { token });
    const referenceMessages = new EventRecorder(reference, 'message');
    const referenceInbox = new EventRecorder(reference, 'inbox');
    const messages: unknown[] = [];
    const inbox: unknown[] = [];
    const onlyMessages: unknown[] = [];
    let closes = 0;
    const both = await connectReceiver(
      server.url,
      { token },
      {
        handlers: { message: (data) => messages.push(data), inbox: (data) => inbox.push(data) },
        readyEvent: 'session',
        onClose: () => closes++,
      },
    );
    const one = await connectReceiver(
      server.url,
      { token },
      { handlers: { message: (data) => onlyMessages.push(data) }, readyEvent: 'session' },
    );

    for (const body of ['first', 'a "quoted", [bracketed] one', 'ünïcödé ✓']) {
      expect((await sendMessage(server.url, alice.basic, bob.jid, body)).status).toBe(200);
    }
    await referenceMessages.waitFor(3);
    await referenceInbox.waitFor(3);
    await waitUntil('three of each', () =>
      [messages, inbox, onlyMessages].every((events) => events.length === 3),
    );

    expect(messages).toEqual(referenceMessages.events);
    expect(inbox).toEqual(referenceInbox.events);
    expect(onlyMessages).toEqual(referenceMessages.events);
    expect(closes).toBe(0);
    both.close();
    one.close();
    reference.disconnect();
    await waitUntil('the close', () => closes > 0);
    expect(closes).toBe(1);
  });

  it('fails with the server’s reason when the handshake is refused', async () => {
    await expect(
      connectReceiver(
        server.url,
        { token: 'at_not-a-token' },
        { handlers: {}, readyEvent: 'session', timeoutMs: 5000 },
      ),
    ).rejects.toThrow(/unauthori|token/i);
  });
});
