#!/usr/bin/env node
// Commit latency of the PostgreSQL the benchmarks use: single-row inserts, each its
// own transaction, one after another, as a floor for the latency of anything that
// waits for a commit (a message is acknowledged only once committed).
//
//   node bench/pg-commit.bench.mjs [--count 500]
//
// Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
// It creates and drops a table of its own, bench_commit_latency.
import { parseArgs } from 'node:util';

import pg from 'pg';

import { percentile } from './lib/common.mjs';

const { values } = parseArgs({ options: { count: { type: 'string', default: '500' } } });
const count = Number.parseInt(values.count, 10);
const url = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  await client.query('DROP TABLE IF EXISTS bench_commit_latency');
  await client.query('CREATE TABLE bench_commit_latency (n integer NOT NULL)');
  const times = [];
  for (let n = 0; n < count; n += 1) {
    const started = performance.now();
    await client.query('INSERT INTO bench_commit_latency (n) VALUES ($1)', [n]);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const settings = await client.query(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')`,
  );
  console.log(`$ node bench/pg-commit.bench.mjs --count ${count}`);
  console.log(settings.rows.map((row) => `${row.name}=${row.setting}`).join(', '));
  console.log(
    `single-row commits: p50 ${percentile(times, 0.5).toFixed(2)} / p99 ${percentile(times, 0.99).toFixed(2)} / max ${times.at(-1).toFixed(2)} ms`,
  );
} finally {
  await client.query('DROP TABLE IF EXISTS bench_commit_latency');
  await client.end();
}
