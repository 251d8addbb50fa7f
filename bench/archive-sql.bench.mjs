#!/usr/bin/env node
// PostgreSQL's cost of the archive's group-commit statement alone, with no
// server in between: batches of one-to-one messages among `pairs` senders
// and recipients, each batch one statement committed on its own, as the
// archive writer sends them when no webhook wants message.created. Prints
// CPU microseconds per message (the statement's backend, and every postgres
// process), WAL bytes per message, the sizes of the tables and indexes
// written, and EXPLAIN (ANALYZE, BUFFERS, WAL) of one more batch. Run after
// `npm run build`:
//
//   node bench/archive-sql.bench.mjs [--batches 2000] [--batch 48] [--pairs 100]
//        [--database relay_archive_sql] [--connections 1] [--explain]
//        [--schema-sql "ALTER TABLE ..."]
//
// --connections commits that many batches at once, each on its own connection
// (the batches are shared out, and the CPU is their backends' together).
// --schema-sql runs after the migrations: a schema change to try before
// writing its migration.
//
// The statement is read from src/messaging/archive-writer.service.ts, so it is
// the one the server runs; the schema is the migrations' in dist/. Environment:
// BENCH_POSTGRES_URL (the server; --database is dropped and recreated there).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { benchArgs, commandLine, numberOption } from './lib/options.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { createDataSource } = await import(join(ROOT, 'dist/src/database/data-source.js'));
const { messageIds } = await import(join(ROOT, 'dist/src/common/ids.js'));

const argv = benchArgs(import.meta.url, {
  batches: { type: 'string' },
  batch: { type: 'string' },
  pairs: { type: 'string' },
  connections: { type: 'string' },
  database: { type: 'string' },
  explain: { type: 'boolean' },
  'schema-sql': { type: 'string' },
});
const batches = numberOption(argv, 'batches', 2000, { positive: true });
const batchSize = numberOption(argv, 'batch', 48, { positive: true });
const pairs = numberOption(argv, 'pairs', 100, { positive: true });
const connections = numberOption(argv, 'connections', 1, { positive: true });
const database = argv.database ?? 'relay_archive_sql';
if (!/^[a-z_][a-z0-9_]*$/.test(database)) {
  throw new Error('--database must be a plain identifier');
}
const serverUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const url = new URL(serverUrl);
url.pathname = `/${database}`;

/** The batch statement as the archive writer builds it from its constants. */
function batchStatement() {
  const source = readFileSync(join(ROOT, 'src/messaging/archive-writer.service.ts'), 'utf8');
  const constant = (name) => {
    const match = new RegExp(`const ${name} =\\s*['\`]([\\s\\S]*?)['\`];`).exec(source);
    if (match === null) {
      throw new Error(`${name} not found in archive-writer.service.ts`);
    }

    return match[1];
  };

  return constant('INSERT_BATCH')
    .replace('${INPUT_COLUMNS}', constant('INPUT_COLUMNS'))
    .replace('${INSERT_AFTER_INPUT}', constant('INSERT_AFTER_INPUT'));
}

/**
 * CPU ticks (1/100 s) of the statement's backends and of the server's own
 * processes (WAL writer, checkpointer, background writer), which write what
 * the backend leaves to them. Other backends belong to other work.
 */
function cpuTicks(backendPids) {
  let auxiliary = 0;
  let backend = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const used = Number(fields[11]) + Number(fields[12]);
      if (backendPids.includes(Number(pid))) {
        backend += used;
      } else if (/^postgres: .*(walwriter|checkpointer|background writer)/.test(cmdline(pid))) {
        auxiliary += used;
      }
    } catch {
      // the process ended meanwhile
    }
  }

  return { auxiliary, backend };
}

function cmdline(pid) {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
}

async function setUp() {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const dataSource = createDataSource({ url: url.toString(), poolSize: 1 });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  if (argv['schema-sql'] !== undefined) {
    await dataSource.query(argv['schema-sql']);
  }
  await dataSource.destroy();
}

async function main() {
  await setUp();
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await client.query(`INSERT INTO domains (name) VALUES ('localhost')`);
  const { rows: users } = await client.query(
    `INSERT INTO users (username, domain, password_hash, scram_sha1, scram_sha256)
     SELECT name, 'localhost', 'x', 'x', 'x'
     FROM unnest(ARRAY(SELECT 's' || n FROM generate_series(0, $1 - 1) n)
              || ARRAY(SELECT 'r' || n FROM generate_series(0, $1 - 1) n)) AS name
     RETURNING id, username || '@localhost' AS jid, username`,
    [pairs],
  );
  const byName = new Map(users.map((user) => [user.username, user]));
  const text = batchStatement();
  let seq = 0;
  const batchValues = () => {
    const columns = Array.from({ length: 10 }, () => []);
    for (let i = 0; i < batchSize; i += 1) {
      const n = seq++;
      const from = byName.get(`s${n % pairs}`);
      const to = byName.get(`r${n % pairs}`);
      const row = [
        messageIds.next(),
        from.id,
        from.jid,
        to.id,
        to.jid,
        `tp|${n}|throughput benchmark message from ${from.jid}`,
        null,
        null,
        null,
        false,
      ];
      row.forEach((value, column) => columns[column].push(value));
    }

    return columns;
  };
  const writers = await Promise.all(
    Array.from({ length: connections }, async () => {
      const writer = new pg.Client({ connectionString: url.toString() });
      await writer.connect();

      return writer;
    }),
  );
  const backendPids = await Promise.all(
    writers.map(
      async (writer) => (await writer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid,
    ),
  );
  const walAt = async () =>
    BigInt((await client.query(`SELECT pg_current_wal_lsn() - '0/0' AS lsn`)).rows[0].lsn);

  const walBefore = await walAt();
  const before = cpuTicks(backendPids);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    writers.map(async (writer) => {
      while (next < batches) {
        next += 1;
        await writer.query({ name: 'archive-insert-batch', text, values: batchValues() });
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const after = cpuTicks(backendPids);
  await Promise.all(writers.map((writer) => writer.end()));
  const walBytes = Number((await walAt()) - walBefore);
  const messages = batches * batchSize;
  const perMessage = (ticks) => Math.round((ticks * 10_000) / messages);

  console.log(`$ ${commandLine(import.meta.url)}`);
  console.log(
    `${messages} messages in ${batches} batches of ${batchSize}, ${pairs} pairs: ${Math.round(messages / wall)} msg/s on ${connections} connection(s)`,
  );
  console.log(
    `CPU per message (us): backends ${perMessage(after.backend - before.backend)}, WAL writer, checkpointer and background writer ${perMessage(after.auxiliary - before.auxiliary)}; WAL ${Math.round(walBytes / messages)} bytes per message`,
  );
  const { rows: sizes } = await client.query(
    `SELECT c.relname AS name, pg_relation_size(c.oid) / 8192 AS pages
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND (c.relname LIKE 'inbox_entries%' OR c.relname LIKE 'archived_messages%')
     ORDER BY 1`,
  );
  console.log(`pages: ${sizes.map((row) => `${row.name} ${row.pages}`).join(', ')}`);
  await client.query('SELECT pg_stat_force_next_flush()');
  const { rows: tables } = await client.query(
    `SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'inbox_entries'`,
  );
  console.log(
    `inbox_entries updates ${tables[0]?.n_tup_upd}, of which HOT ${tables[0]?.n_tup_hot_upd}`,
  );
  if (argv.explain) {
    const values = batchValues();
    const literal = (column, type) =>
      `${client.escapeLiteral(`{${column.map((value) => (value === null ? 'NULL' : JSON.stringify(value))).join(',')}}`)}::${type}[]`;
    const types = [
      'uuid',
      'uuid',
      'text',
      'uuid',
      'text',
      'text',
      'text',
      'uuid',
      'text',
      'boolean',
    ];
    const args = values.map((column, i) => literal(column, types[i]));
    await client.query(`PREPARE archive_batch AS ${text}`);
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, BUFFERS, WAL, VERBOSE OFF) EXECUTE archive_batch(${args.join(', ')})`,
    );
    console.log(rows.map((row) => row['QUERY PLAN']).join('\n'));
  }
  await client.end();
}

await main();
