import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UsersService } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import type { MessageView } from '#src/messaging/message-view.js';
import { ArchiveWriter, type ArchiveWrite } from '#src/messaging/archive-writer.service.js';
import { http, registerUser, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

describe.skipIf(!servicesUp())('the archive writer (group commit)', () => {
  let server: TestServer;
  let writer: ArchiveWriter;
  let ada: TestUser;
  let bob: TestUser;
  let adaId: string;
  let bobId: string;
  /** Senders to bob, each with a conversation (and inbox rows) of its own. */
  let senders: { id: string; jid: string }[];

  beforeAll(async () => {
    server = await startTestServer();
    writer = server.app.get(ArchiveWriter);
    ada = await registerUser(server.url, server.domain, 'ada');
    bob = await registerUser(server.url, server.domain, 'bob');
    const users = server.app.get(UsersService);
    adaId = (await users.findByJid(ada.jid))!.id;
    bobId = (await users.findByJid(bob.jid))!.id;
    senders = [];
    for (const name of ['cy', 'dee', 'eve', 'fay', 'gus', 'hal']) {
      const user = await registerUser(server.url, server.domain, name);
      senders.push({ id: (await users.findByJid(user.jid))!.id, jid: user.jid });
    }
  });

  afterAll(async () => {
    await server?.stop();
  });

  function toBob(body: string): ArchiveWrite {
    return {
      senderId: adaId,
      senderJid: ada.jid,
      recipientId: bobId,
      recipientJid: bob.jid,
      body,
    };
  }

  async function bobsPageAfter(afterId: string | undefined): Promise<MessageView[]> {
    const query = afterId === undefined ? 'limit=500' : `limit=500&after_id=${afterId}`;
    const page = await http<MessageView[]>(server.url, 'GET', `/api/messages?${query}`, {
      auth: bob.basic,
    });
    expect(page.status).toBe(200);

    return page.body;
  }

  it('makes ids visible in ascending order under a stream of batches, so a reader syncing forward skips none', async () => {
    const before = await bobsPageAfter(undefined);
    let cursor = before.at(-1)?.id;
    const seen: string[] = [];
    let writing = true;
    const reader = (async () => {
      // Sync forward by id as a device would, as fast as it can, until the writes are done and read.
      for (;;) {
        const done = !writing;
        const page = await bobsPageAfter(cursor);
        for (const message of page) {
          seen.push(message.id);
        }
        cursor = page.at(-1)?.id ?? cursor;
        if (done && page.length === 0) {
          return;
        }
      }
    })();
    const accepted: string[] = [];
    /** Each accepted id's sender and its place in that sender's sends. */
    const sent = new Map<string, { sender: string; place: number }>();
    const sendsBy = new Map<string, number>();
    // Bursts every few milliseconds, landing while earlier batches are still committing.
    const sends: Promise<void>[] = [];
    for (let burst = 0; burst < 60; burst += 1) {
      // Two bursts in a row from each sender, so batches mix conversations and repeat them.
      const sender = senders[Math.floor(burst / 2) % senders.length]!;
      for (let index = 0; index < 1 + (burst % 5) * 4; index += 1) {
        const place = sendsBy.get(sender.jid) ?? 0;
        sendsBy.set(sender.jid, place + 1);
        const write = {
          ...toBob(`burst ${burst} message ${index}`),
          senderId: sender.id,
          senderJid: sender.jid,
        };
        sends.push(
          writer.write(write).then((result) => {
            expect(result.duplicate).toBe(false);
            accepted.push(result.id);
            sent.set(result.id, { sender: sender.jid, place });
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await Promise.all(sends);
    writing = false;
    await reader;

    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...accepted].sort());
    expect(seen).toEqual([...seen].sort());
    // Each conversation in the order its messages were sent.
    for (const sender of senders) {
      const places = seen
        .map((id) => sent.get(id)!)
        .filter((item) => item.sender === sender.jid)
        .map((item) => item.place);
      expect(places).toEqual(places.map((_, index) => index));
    }
  });

  it('stores the rest of a batch when one write in it fails, and refuses only that one', async () => {
    const writes = [
      toBob('before the bad one'),
      { ...toBob('to a user deleted a moment ago'), recipientId: randomUUID() },
      toBob('after the bad one'),
    ];
    // The first write commits alone; the other three queue behind it and form one batch.
    const outcomes = await Promise.allSettled([
      writer.write(toBob('opens the queue')),
      ...writes.map((write) => writer.write(write)),
    ]);

    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const refused = (outcomes[2] as PromiseRejectedResult).reason as unknown;
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('user-not-found');
    const page = await bobsPageAfter(undefined);
    const bodies = page.map((message) => message.body);
    expect(bodies.slice(-3)).toEqual([
      'opens the queue',
      'before the bad one',
      'after the bad one',
    ]);
    expect(bodies).not.toContain('to a user deleted a moment ago');
  });
});
