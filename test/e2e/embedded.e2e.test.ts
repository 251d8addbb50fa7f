import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';

import { basic, connectSocket, EventRecorder, http, sendMessage } from '#test/helpers/api.js';
import { startTestServer } from '#test/helpers/test-server.js';

/** No DATABASE_URL and no REDIS_URL: embedded PostgreSQL on disk, sessions in process. */
describe('embedded mode', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-embedded-'));
  const settings = { DATA_DIR: dataDir, ADMIN_PASSWORD: '' };

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs with nothing set up, and keeps its data across a restart', async () => {
    const first = await startTestServer(settings, { embedded: true, domain: 'localhost' });
    const password = readFileSync(join(dataDir, 'admin-password'), 'utf8').trim();
    const admin = basic('admin', password);
    for (const username of ['alice', 'bob']) {
      expect(
        (
          await http(first.url, 'POST', '/api/admin/users/localhost', {
            auth: admin,
            json: { username, password: 'secret-password' },
          })
        ).status,
      ).toBe(201);
    }
    const alice = basic('alice@localhost', 'secret-password');
    const bob = basic('bob@localhost', 'secret-password');
    const socket = await connectSocket(first.url, {
      jid: 'bob@localhost',
      password: 'secret-password',
    });
    const received = new EventRecorder<{ body: string }>(socket, 'message');
    const sent = await sendMessage(first.url, alice, 'bob@localhost', 'survives a restart');
    expect((await received.waitFor(1))[0]!.body).toBe('survives a restart');
    expect((await http<{ status: string }>(first.url, 'GET', '/health/ready')).body.status).toBe(
      'ok',
    );

    // Concurrent writes and reads on the one embedded session: every answer right, none mixed up.
    const mixed = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 2 === 0
          ? sendMessage(first.url, alice, 'bob@localhost', `burst ${i}`)
          : http<unknown[]>(first.url, 'GET', '/api/messages?limit=5', { auth: bob }),
      ),
    );
    expect(mixed.map((result) => result.status)).toEqual(Array.from({ length: 60 }, () => 200));
    await received.waitFor(31);

    // The pool replaces its connection (pg closes one idle for 10 s by default, or after an
    // error). Statements prepared on the old one live on in the one embedded session; the new
    // connection must still run them, logins and sends alike.
    const pool = (first.app.get(DataSource).driver as unknown as { master: Pool }).master;
    const old = await pool.connect();
    old.release(true);
    const again = await sendMessage(first.url, alice, 'bob@localhost', 'after a new connection');
    expect(again.status).toBe(200);
    expect((await received.waitFor(32))[31]!.body).toBe('after a new connection');
    expect((await http(first.url, 'GET', '/api/messages?limit=1', { auth: bob })).status).toBe(200);
    socket.disconnect();
    await first.stop();

    const second = await startTestServer(settings, { embedded: true, domain: 'localhost' });
    try {
      // The generated admin password was kept, not made again.
      expect(readFileSync(join(dataDir, 'admin-password'), 'utf8').trim()).toBe(password);
      const archive = await http<{ id: string; body: string }[]>(
        second.url,
        'GET',
        '/api/messages/alice@localhost',
        { auth: bob },
      );
      expect(archive.body[0]).toEqual(
        expect.objectContaining({ id: sent.body.id, body: 'survives a restart' }),
      );
      expect(archive.body).toHaveLength(32);
      expect(
        (await http(second.url, 'GET', '/api/admin/users/localhost/count', { auth: admin })).body,
      ).toEqual({ count: 2 });
    } finally {
      await second.stop();
    }
  });
});
