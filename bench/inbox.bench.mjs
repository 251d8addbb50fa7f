#!/usr/bin/env node
// Inbox benchmark: one user with many conversations; latency of the first
// inbox page and of the total unread count. Run after `npm run build`:
//
//   node bench/inbox.bench.mjs [--conversations 10000] [--requests 2000] [--concurrency 1]
//
// The conversations are seeded with SQL in the shape the archive writer
// gives them (a peer account, both archive sides of its last message, the
// owner's inbox entry, a third of them unread), because registering 10,000
// accounts through argon2 would take minutes and measure nothing of the
// inbox. The reads then go through the real HTTP API with a bearer token.
// Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
// BENCH_REDIS_URL (default redis://127.0.0.1:6379). Talks to 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import pg from 'pg';

import { freePort, percentile } from './lib/common.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COMMAND = [
  'node',
  relative(ROOT, fileURLToPath(import.meta.url)),
  ...process.argv.slice(2),
].join(' ');
const { values: argv } = parseArgs({
  options: {
    conversations: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '1' },
  },
});
const CONVERSATIONS = Number(argv.conversations);
const REQUESTS = Number(argv.requests);
const CONCURRENCY = Number(argv.concurrency);
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DATABASE = 'relay_bench_inbox';
const DATABASE_URL = ADMIN_URL.replace(/\/[^/]*$/, `/${DATABASE}`);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DOMAIN = 'inbox.bench';
const ADMIN_PASSWORD = 'bench-admin-password';
const RUN_DIR = join(ROOT, 'bench', '.runs', `inbox-${Date.now()}`);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(base, method, path, { auth, json } = {}) {
  return new Promise((resolveCall, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          ...(auth === undefined ? {} : { authorization: auth }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolveCall({ status: res.statusCode, body: text === '' ? undefined : JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function admin(statements) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    for (const statement of statements) {
      await client.query(statement);
    }
  } finally {
    await client.end();
  }
}

async function startServer() {
  const port = await freePort();
  mkdirSync(RUN_DIR, { recursive: true });
  const logFile = join(RUN_DIR, 'server.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      // Free ports: runs side by side must not collide on 5222/5223.
      XMPP_C2S_PORT: '0',
      XMPP_C2S_TLS_PORT: '0',
      DATABASE_URL,
      REDIS_URL,
      REDIS_KEY_PREFIX: `bench-inbox-${Date.now()}:`,
      DATA_DIR: join(RUN_DIR, 'data'),
      XMPP_DOMAINS: DOMAIN,
      ADMIN_USERNAME: 'admin',
      ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
    },
  });
  closeSync(fd);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`server exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    const ready = await call(base, 'GET', '/health/ready').catch(() => undefined);
    if (ready?.status === 200) {
      return { child, base };
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('server not ready after 60 s');
    }
    await sleep(100);
  }
}

async function seed(ownerJid) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const owner = (
      await client.query('SELECT id FROM users WHERE username = $1 AND domain = $2', [
        ownerJid.split('@')[0],
        DOMAIN,
      ])
    ).rows[0].id;
    // Ids in the writer's UUIDv7 layout, one per conversation, a second apart in time.
    await client.query(
      `WITH peers AS (
         INSERT INTO users (username, domain, password_hash, scram_sha1, scram_sha256)
         SELECT 'peer' || n, $2, 'x', 'x', 'x' FROM generate_series(1, $3) AS n
         RETURNING id, username
       ), messages AS (
         SELECT p.id AS peer_id, p.username || '@' || $2 AS peer_jid,
           (lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint - $3 * 1000 + row_number() OVER () * 1000), 12, '0')
             || '7' || substr(md5(p.username), 1, 3) || '8' || substr(md5(p.username), 4, 15))::uuid AS id,
           row_number() OVER () AS n
         FROM peers p
       ), sides AS (
         INSERT INTO archived_messages (owner_id, id, peer, outgoing, body)
         SELECT $1, id, peer_jid, false, 'hello from ' || peer_jid FROM messages
         UNION ALL
         SELECT peer_id, id, $4, true, 'hello from ' || peer_jid FROM messages
       )
       INSERT INTO inbox_entries (owner_id, kind, conversation, last_message_id, last_from, last_body, unread)
       SELECT $1, 'chat', peer_jid, id, peer_jid, 'hello from ' || peer_jid, CASE WHEN n % 3 = 0 THEN n % 7 + 1 ELSE 0 END
       FROM messages`,
      [owner, DOMAIN, CONVERSATIONS, ownerJid],
    );
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

async function measure(base, auth, path) {
  const times = [];
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      next += 1;
      const start = performance.now();
      const res = await call(base, 'GET', path, { auth });
      times.push(performance.now() - start);
      if (res.status !== 200) {
        throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  times.sort((a, b) => a - b);

  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: times.at(-1) };
}

async function main() {
  await admin([`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`, `CREATE DATABASE ${DATABASE}`]);
  const server = await startServer();
  try {
    const adminAuth = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const created = await call(server.base, 'POST', `/api/admin/users/${DOMAIN}`, {
      auth: adminAuth,
      json: { username: 'owner', password: 'owner-password' },
    });
    if (created.status !== 201) {
      throw new Error(`register: ${created.status}`);
    }
    const ownerJid = `owner@${DOMAIN}`;
    const seedStart = performance.now();
    await seed(ownerJid);
    const seedMs = performance.now() - seedStart;
    const token = await call(server.base, 'POST', '/api/tokens', {
      auth: `Basic ${Buffer.from(`${ownerJid}:owner-password`).toString('base64')}`,
    });
    const auth = `Bearer ${token.body.access_token}`;

    const page = await call(server.base, 'GET', '/api/inbox', { auth });
    const total = await call(server.base, 'GET', '/api/inbox/unread', { auth });
    if (page.body.length !== 50 || total.body.conversations !== Math.floor(CONVERSATIONS / 3)) {
      throw new Error(
        `unexpected inbox: ${page.body.length} entries, ${JSON.stringify(total.body)}`,
      );
    }
    // Warm both paths, then measure.
    await measure(server.base, auth, '/api/inbox');
    await measure(server.base, auth, '/api/inbox/unread');
    const first = await measure(server.base, auth, '/api/inbox');
    const unread = await measure(server.base, auth, '/api/inbox/unread');
    const fmt = (n) => n.toFixed(2).padStart(7);

    console.log(`command: ${COMMAND}`);
    console.log(
      `seeded ${CONVERSATIONS} conversations in ${(seedMs / 1000).toFixed(1)} s; ${REQUESTS} requests each, concurrency ${CONCURRENCY}, PostgreSQL + Redis`,
    );
    console.log(`                          p50 ms   p99 ms   max ms   target p99`);
    console.log(
      `GET /api/inbox (50)     ${fmt(first.p50)}  ${fmt(first.p99)}  ${fmt(first.max)}   < 10 ms  ${first.p99 < 10 ? 'PASS' : 'FAIL'}`,
    );
    console.log(
      `GET /api/inbox/unread   ${fmt(unread.p50)}  ${fmt(unread.p99)}  ${fmt(unread.max)}   < 10 ms  ${unread.p99 < 10 ? 'PASS' : 'FAIL'}`,
    );
    console.log(`unread total: ${JSON.stringify(total.body)}`);
  } finally {
    server.child.kill('SIGTERM');
    agent.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
