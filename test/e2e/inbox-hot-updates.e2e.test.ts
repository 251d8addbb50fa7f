import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { http, registerUser, sendMessage, type TestUser } from '#test/helpers/api.js';
import { createTestDatabase, servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

interface TableStats {
  readonly inserted: number;
  readonly updated: number;
  readonly hot: number;
}

/**
 * Every message rewrites both sides' inbox entries; those updates must be
 * HOT (no new index entries), or each message costs PostgreSQL a tuple and
 * an entry per index, and the indexes grow with every message sent.
 */
describe.skipIf(!servicesUp())('inbox entries are updated in place', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: TestServer | undefined;
  let stats: pg.Client;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    // A database of its own: the statistics count every update of the table.
    database = await createTestDatabase('inbox_hot');
    server = await startTestServer({ DATABASE_URL: database.url });
    stats = new pg.Client({ connectionString: database.url });
    await stats.connect();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    await stats?.end();
    await server?.stop();
    await database?.drop();
  });

  /** The table's counters once the server's connections have reported at least `updates` updates. */
  async function statsAfter(updates: number): Promise<TableStats> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { rows } = await stats.query<TableStats>(
        `SELECT n_tup_ins::int AS inserted, n_tup_upd::int AS updated, n_tup_hot_upd::int AS hot
         FROM pg_stat_user_tables WHERE relname = 'inbox_entries'`,
      );
      const row = rows[0]!;
      if (row.updated >= updates || Date.now() > deadline) {
        return row;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('through sends both ways, a displayed marker, flags and a reset', async () => {
    const url = server!.url;
    const ids: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const sent = await sendMessage(url, alice.basic, bob.jid, `to bob ${i}`);
      expect(sent.status).toBe(200);
      ids.push(sent.body.id);
    }
    for (let i = 0; i < 5; i += 1) {
      expect((await sendMessage(url, bob.basic, alice.jid, `to alice ${i}`)).status).toBe(200);
    }
    const marker = await http(url, 'POST', `/api/messages/${ids[4]}/markers`, {
      auth: bob.basic,
      json: { type: 'displayed' },
    });
    expect(marker.status).toBe(204);
    const flags = await http(url, 'PUT', `/api/inbox/chat/${alice.jid}`, {
      auth: bob.basic,
      json: { pinned: true, muted_until: Date.now() + 60_000 },
    });
    expect(flags.status).toBe(200);
    const reset = await http(url, 'POST', `/api/inbox/chat/${alice.jid}/reset`, {
      auth: bob.basic,
    });
    expect(reset.status).toBe(200);
    // An idle connection reports its counters only after seconds; one that closes, at once.
    await server!.stop();
    server = undefined;

    // Two entries made by the first message, then two updates for each of the other 14, and 3 more.
    const table = await statsAfter(31);

    expect(table).toEqual({ inserted: 2, updated: 31, hot: 31 });
  });
});
