#!/usr/bin/env node
// XMPP benchmark (issue 4): logins per second, paired message throughput,
// latency at a fixed rate and server memory per idle authenticated session,
// with a hand-written raw-TCP client (bench/lib/xmpp-load-client.mjs).
// Run after `npm run build`:
//
//   node bench/xmpp.bench.mjs [--server relay|prosody|both] [--pairs 50] [--in-flight 20]
//        [--duration 10] [--warmup 3] [--rate 2000] [--latency-duration 10]
//        [--idle-sessions 10000] [--login-concurrency 100] [--starttls] [--mechanism SCRAM-SHA-1]
//        [--host H --port P --domain D --user-pattern 'bench{n}' --password PW --server-pid PID]
//        [--keep-db] [--settle 20] [--cpu-prof] [--log-level warn] [--prosody-port 15222]
//        [--server-node-args='--max-semi-space-size=64 --trace-gc']
//        [--sm] [--ack-every 5] [--sm-rounds 2]
//
// Without --host it starts the server(s) itself on 127.0.0.1: ours (dist/src/main.js
// against PostgreSQL and Redis, XMPP_REQUIRE_TLS=false, users registered through
// POST /api/admin/users/{domain}) and/or Debian's prosody (bench/lib/prosody.mjs).
// With --host it measures the server there; the accounts `user-pattern` with {n}
// from 0 to 2*pairs+idle-sessions-1 (with --sm, 4*pairs+idle-sessions-1) must exist
// with --password, and --server-pid (a local pid) gives the memory figure. Registration is setup, never measured.
// --keep-db keeps the benchmark database and prosody's data between runs, so the
// accounts are created once. Environment: BENCH_POSTGRES_URL, BENCH_DATABASE
// (default relay_bench_xmpp), BENCH_REDIS_URL (default redis://127.0.0.1:6379/11),
// BENCH_SEMI_SPACE (the server's --max-semi-space-size in MiB; default 16, as `npm start`),
// BENCH_NODE_ARGS (more node flags for the server, for diagnostics such as --trace-gc).
// --server-node-args replaces the server's V8 flags (then BENCH_SEMI_SPACE is not used).
//
// Phases, in this order, against each server:
//   1. the 2*pairs traffic sessions log in (a login ends with initial presence answered)
//   2. memory: VmRSS before, log in idle-sessions more (cold: the client derives
//      every SCRAM key), VmRSS after they idled `settle` s; (after - before) / sessions
//   3. they log out; the same accounts log in again with the client's cached
//      SCRAM keys (RFC 5802 allows it), so logins/s is the server's figure
//   4. a short warm-up of traffic, then throughput: each sender keeps in-flight
//      messages outstanding to its peer's bare JID; deliveries per second
//   5. latency: a paced sender at a fixed total rate, send-to-receive p50/p99
//   6. with --sm: 2*pairs more sessions (the accounts after the idle ones) log in
//      with stream management (XEP-0198), each asking for an ack every --ack-every
//      stanzas and answering the server's requests; then throughput rounds of
//      --duration s alternate between the two sets, A B B A (--sm-rounds pairs),
//      and the figures with and without are compared (target: within 15 %)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';
import pg from 'pg';

import { cpuSnapshot, disturbance } from './lib/cpu.mjs';
import { summarizeProfile } from './lib/profile-summary.mjs';
import { prosodyInstalled, startProsody } from './lib/prosody.mjs';
import { call, closeHttp, mapLimit, percentile, SERVER_NODE_FLAGS } from './lib/common.mjs';
import { benchArgs, commandLine, storeOptions } from './lib/options.mjs';
import { archiveStats, cpuPerMessage, scrapeMetrics } from './lib/server-metrics.mjs';
import { startBenchServer } from './lib/server.mjs';
import { databaseUrl } from './lib/stores.mjs';
import {
  attrOf,
  childText,
  elementName,
  ScramKeyCache,
  XmppLoadClient,
} from './lib/xmpp-load-client.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const COMMAND = commandLine(import.meta.url);

// ---------------------------------------------------------------- options

const argv = benchArgs(import.meta.url, {
  server: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  domain: { type: 'string' },
  'user-pattern': { type: 'string' },
  password: { type: 'string' },
  'server-pid': { type: 'string' },
  pairs: { type: 'string' },
  'in-flight': { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  rate: { type: 'string' },
  'latency-duration': { type: 'string' },
  'idle-sessions': { type: 'string' },
  'login-concurrency': { type: 'string' },
  starttls: { type: 'boolean' },
  mechanism: { type: 'string' },
  'keep-db': { type: 'boolean' },
  'log-level': { type: 'string' },
  'prosody-port': { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  'server-node-args': { type: 'string' },
  settle: { type: 'string' },
  sm: { type: 'boolean' },
  'ack-every': { type: 'string' },
  'sm-rounds': { type: 'string' },
});
const env = process.env;
const positive = (flag, fallback, { integer = true, zero = false } = {}) => {
  const value = Number(argv[flag] ?? fallback);
  if (
    !Number.isFinite(value) ||
    value < 0 ||
    (!zero && value === 0) ||
    (integer && !Number.isInteger(value))
  ) {
    throw new Error(
      `--${flag} must be a ${integer ? 'whole' : ''} number${zero ? '' : ' above 0'}`,
    );
  }

  return value;
};
const opts = {
  server: argv.host !== undefined ? 'external' : (argv.server ?? 'relay'),
  host: argv.host ?? '127.0.0.1',
  port: argv.port === undefined ? undefined : positive('port', 0),
  domain: argv.domain ?? 'localhost',
  userPattern: argv['user-pattern'] ?? 'bench{n}',
  password: argv.password ?? 'bench-password',
  serverPid: argv['server-pid'] === undefined ? undefined : positive('server-pid', 0),
  pairs: positive('pairs', 50),
  inFlight: positive('in-flight', 20),
  duration: positive('duration', 10, { integer: false }),
  warmup: positive('warmup', 3, { integer: false, zero: true }),
  rate: positive('rate', 2000),
  latencyDuration: positive('latency-duration', 10, { integer: false }),
  idleSessions: positive('idle-sessions', 10_000, { zero: true }),
  loginConcurrency: positive('login-concurrency', 100),
  starttls: argv.starttls ?? false,
  mechanism: argv.mechanism ?? 'SCRAM-SHA-1',
  keepDb: argv['keep-db'] ?? false,
  logLevel: argv['log-level'] ?? 'warn',
  prosodyPort: positive('prosody-port', 15222),
  cpuProf: argv['cpu-prof'] ?? false,
  serverNodeArgs: argv['server-node-args']?.split(' ').filter(Boolean),
  settle: positive('settle', 20),
  sm: argv.sm ?? false,
  ackEvery: positive('ack-every', 5),
  smRounds: positive('sm-rounds', 2),
  ...storeOptions({ database: 'relay_bench_xmpp', redisDb: 11 }),
};
if (!['relay', 'prosody', 'both', 'external'].includes(opts.server)) {
  throw new Error('--server is relay, prosody or both');
}
if (!opts.userPattern.includes('{n}')) {
  throw new Error('--user-pattern needs {n}, replaced by the account number');
}
if (!['SCRAM-SHA-1', 'PLAIN'].includes(opts.mechanism)) {
  throw new Error('--mechanism is SCRAM-SHA-1 or PLAIN');
}
if (opts.server === 'external' && opts.port === undefined) {
  throw new Error('--host needs --port');
}
const ADMIN_PASSWORD = 'bench-admin-password';
// With --sm, a second set of traffic accounts follows the idle ones.
const USERS = 2 * opts.pairs * (opts.sm ? 2 : 1) + opts.idleSessions;
const userName = (n) => opts.userPattern.replace('{n}', String(n));

const RUN_DIR = join(HERE, '.runs', `xmpp-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(RUN_DIR, { recursive: true });

const log = (message) =>
  process.stderr.write(`[xmpp-bench +${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);
const r1 = (value) => Math.round(value * 10) / 10;
const r2 = (value) => Math.round(value * 100) / 100;

/** Resident memory of a process in KiB, from /proc/<pid>/status. */
function vmRssKiB(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));

  return match === null ? NaN : Number(match[1]);
}

/**
 * Where a process's resident memory lies, in KiB, for the memory phase's diagnostics:
 * /proc/<pid>/smaps summed by mapping kind (`[heap]` is malloc's main arena; anonymous
 * mappings hold V8's heap pages, malloc's other arenas and its large blocks).
 */
function residentByMapping(pid) {
  const totals = { brkHeap: 0, anonymous: 0, files: 0, other: 0 };
  let kind = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header !== null) {
      const name = header[1];
      kind =
        name === '[heap]'
          ? 'brkHeap'
          : name === ''
            ? 'anonymous'
            : name.startsWith('/')
              ? 'files'
              : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) {
      totals[kind] += Number(rss[1]);
    }
  }

  return totals;
}

function uptime() {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return '(uptime unavailable)';
  }
}

// ---------------------------------------------------------------- our server

async function prepareStores() {
  const admin = new pg.Client({ connectionString: opts.postgresUrl });
  await admin.connect();
  const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
    opts.database,
  ]);
  if (!opts.keepDb || rows.length === 0) {
    await admin.query(`DROP DATABASE IF EXISTS ${opts.database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${opts.database}`);
  }
  await admin.end();
  if (opts.keepDb && rows.length > 0) {
    // Keep the accounts, not the history of earlier runs: their archive and inbox rows, and the
    // dead rows their updates left (this machine's PostgreSQL runs with autovacuum off, so an
    // inbox of 100 conversations grew to hundreds of MB of dead rows over a few runs).
    const db = new pg.Client({ connectionString: databaseUrl(opts) });
    await db.connect();
    await db.query('TRUNCATE archived_messages, inbox_entries CASCADE').catch(() => undefined);
    await db.query('VACUUM ANALYZE');
    await db.end();
  }
  const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.flushdb();
  await redis.quit();
}

/** Accounts of the domain a kept database already has (none after a reset). */
async function existingUsers() {
  const db = new pg.Client({ connectionString: databaseUrl(opts) });
  await db.connect();
  try {
    const { rows } = await db.query('SELECT username FROM users WHERE domain = $1', [opts.domain]);

    return new Set(rows.map((row) => row.username));
  } finally {
    await db.end();
  }
}

async function startRelay() {
  await prepareStores();
  const profDir = join(RUN_DIR, 'prof');
  const launch = () =>
    startBenchServer({
      runDir: RUN_DIR,
      logName: 'relay-server.log',
      databaseUrl: databaseUrl(opts),
      redisUrl: opts.redisUrl,
      domain: opts.domain,
      adminPassword: ADMIN_PASSWORD,
      logLevel: opts.logLevel,
      nodeArgs: [
        // The same V8 flags as `npm start` and the Docker image, unless told otherwise.
        ...(opts.serverNodeArgs ??
          SERVER_NODE_FLAGS.map((flag) =>
            flag.startsWith('--max-semi-space-size=') && env.BENCH_SEMI_SPACE !== undefined
              ? `--max-semi-space-size=${env.BENCH_SEMI_SPACE}`
              : flag,
          )),
        ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
        // Diagnostics only (--trace-gc, --heapsnapshot-signal=SIGUSR2): never part of a figure reported.
        ...(env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== ''),
      ],
      c2s: true,
      env: { XMPP_REQUIRE_TLS: 'false' },
    });
  let server = await launch();
  log(`relay pid ${server.child.pid}: HTTP ${server.httpPort}, c2s ${server.c2sPort}`);
  const started = performance.now();
  const authorization = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
  let created = 0;
  const existing = await existingUsers();
  const base = server.base;
  await mapLimit(
    Array.from({ length: USERS }, (_, n) => n).filter((n) => !existing.has(userName(n))),
    8,
    async (n) => {
      const res = await call(base, 'POST', `/api/admin/users/${opts.domain}`, {
        headers: { authorization },
        json: { username: userName(n), password: opts.password },
      });
      if (res.status === 201) {
        created++;
      } else if (res.status !== 409) {
        throw new Error(`register ${userName(n)}: ${res.status} ${res.body}`);
      }
      if (created % 1000 === 0) {
        log(`registered ${created} of ${USERS - existing.size}`);
      }
    },
  );
  log(
    `${USERS} accounts ready (${created} created) in ${r1((performance.now() - started) / 1000)} s (setup)`,
  );
  if (created > 0) {
    // Registration's garbage (argon2, SCRAM keys) would sit in the heap the memory figure starts from.
    await server.stop();
    server = await launch();
    log(`relay restarted after registration: pid ${server.child.pid}`);
  }

  return {
    name: 'relay',
    profDir,
    pid: server.child.pid,
    port: server.c2sPort,
    base: server.base,
    logFile: server.logFile,
    spawnedAt: server.spawnedAt,
    stop: () => server.stop(),
  };
}

async function startProsodyTarget() {
  if (!prosodyInstalled()) {
    throw new Error('prosody is not installed (apt-get install -y prosody)');
  }
  const dir = opts.keepDb ? join(HERE, '.runs', 'prosody-kept') : join(RUN_DIR, 'prosody');
  const server = await startProsody({
    dir,
    port: opts.prosodyPort,
    domain: opts.domain,
    logLevel: opts.logLevel === 'debug' ? 'debug' : opts.logLevel === 'info' ? 'info' : 'warn',
  });
  log(`prosody pid ${server.pid} on 127.0.0.1:${server.port}, data in ${relative(ROOT, dir)}`);
  const started = performance.now();
  server.createUsers(opts.userPattern, opts.password, 0, USERS);
  log(`${USERS} prosody accounts ready in ${r1((performance.now() - started) / 1000)} s (setup)`);

  return { name: 'prosody', ...server };
}

// ---------------------------------------------------------------- sessions

function client(target, n, keyCache, resource = 'bench', sm = false) {
  return new XmppLoadClient({
    ...(sm ? { ackEvery: opts.ackEvery } : {}),
    host: opts.host,
    port: target.port,
    domain: opts.domain,
    username: userName(n),
    password: opts.password,
    starttls: opts.starttls,
    mechanism: opts.mechanism,
    resource,
    keyCache,
    timeoutMs: 60_000,
  });
}

/** Logs in the accounts `numbers`; resolves with the clients and the rate. */
async function loginMany(target, numbers, keyCache, roles, sm = false) {
  const cpu = cpuSnapshot();
  const started = performance.now();
  const times = [];
  const clients = await mapLimit(numbers, opts.loginConcurrency, async (n) => {
    const c = client(target, n, keyCache, sm ? 'bench-sm' : 'bench', sm);
    const t0 = performance.now();
    await c.login();
    times.push(performance.now() - t0);

    return c;
  });
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);

  const cores = cpu.stop(roles);

  return {
    clients,
    window: { fromUs: monotonicUs() - seconds * 1e6, toUs: monotonicUs() },
    figures: {
      sessions: numbers.length,
      seconds: r2(seconds),
      loginsPerSecond: r1(numbers.length / seconds),
      loginMs: { p50: r1(percentile(times, 0.5)), p99: r1(percentile(times, 0.99)) },
      cpuCoresBusy: cores,
      // The steady figure where the machine's speed varies: a login's cost, not its rate.
      cpuMicrosecondsPerLogin: cpuPerMessage(cores, numbers.length, [
        'server',
        'postgres',
        'redis',
        'bench client',
      ]),
    },
  };
}

async function closeAll(clients) {
  for (const c of clients) {
    c.close();
  }
  await sleep(1000);
  for (const c of clients) {
    c.destroy();
  }
}

/**
 * Wires the traffic pairs: sender 2i talks to receiver 2i+1's bare JID.
 * Bodies carry `pair:seq:sentAt`, so the receiver tells its pair, order and latency.
 */
function wirePairs(clients) {
  const state = {
    received: 0,
    duplicates: 0,
    misrouted: 0,
    errors: 0,
    unexpectedCloses: 0,
    duplicateSamples: [],
    onMessage: undefined,
  };
  const pairs = [];
  for (let i = 0; i < clients.length / 2; i++) {
    const sender = clients[2 * i];
    const receiver = clients[2 * i + 1];
    const pair = {
      index: i,
      sender,
      receiver,
      to: receiver.jid,
      next: 0,
      // A byte per sequence number: no object per message kept for the whole run.
      seen: new Uint8Array(1024),
      // The paced phase's scheduled send times, by sequence number from pacedFrom.
      pacedFrom: 0,
      scheduled: [],
    };
    pairs.push(pair);
    for (const c of [sender, receiver]) {
      c.onClosed = () => {
        if (!c.closed) {
          state.unexpectedCloses++;
        }
      };
    }
    sender.onStanza = (xml) => {
      if (attrOf(xml, 'type') === 'error') {
        state.errors++;
      }
    };
    receiver.onStanza = (xml) => {
      const name = elementName(xml);
      if (name !== 'message') {
        return;
      }
      if (attrOf(xml, 'type') === 'error') {
        state.errors++;

        return;
      }
      const body = childText(xml, 'body');
      if (body === undefined) {
        return;
      }
      const now = performance.now();
      const first = body.indexOf(':');
      const second = body.indexOf(':', first + 1);
      if (Number(body.slice(0, first)) !== i) {
        state.misrouted++;

        return;
      }
      const seq = Number(body.slice(first + 1, second));
      if (seenBefore(pair, seq)) {
        state.duplicates++;
        if (state.duplicateSamples.length < 5) {
          state.duplicateSamples.push(xml);
        }

        return;
      }
      state.received++;
      state.onMessage?.(pair, now, now - Number(body.slice(second + 1)), seq);
    };
  }

  return { pairs, state };
}

/** Marks `seq` received from `pair`; true when it already was. */
function seenBefore(pair, seq) {
  if (seq >= pair.seen.length) {
    const grown = new Uint8Array(2 * (seq + 1));
    grown.set(pair.seen);
    pair.seen = grown;
  }
  const seen = pair.seen[seq] === 1;
  pair.seen[seq] = 1;

  return seen;
}

function send(pair) {
  const seq = pair.next++;
  pair.sender.sendMessage(pair.to, `${pair.index}:${seq}:${performance.now().toFixed(3)}`);

  return seq;
}

/** Every sender keeps `inFlight` messages outstanding; counts deliveries inside the window. */
async function runThroughput(wired, seconds, roles) {
  const { pairs, state } = wired;
  let counting = false;
  let stopping = false;
  let delivered = 0;
  let outstanding = 0;
  state.onMessage = (pair) => {
    outstanding--;
    if (counting) {
      delivered++;
    }
    if (!stopping) {
      outstanding++;
      send(pair);
    }
  };
  for (const pair of pairs) {
    for (let k = 0; k < opts.inFlight; k++) {
      outstanding++;
      send(pair);
    }
  }
  await sleep(Math.min(1000, seconds * 100));
  const cpu = cpuSnapshot();
  counting = true;
  const started = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  const window = { fromUs: monotonicUs() - elapsed * 1e6, toUs: monotonicUs() };
  const cores = cpu.stop(roles);
  stopping = true;
  const deadline = performance.now() + 10_000;
  while (outstanding > 0 && performance.now() < deadline) {
    await sleep(20);
  }
  state.onMessage = undefined;

  return {
    messagesPerSecond: r1(delivered / elapsed),
    delivered,
    seconds: r2(elapsed),
    lostAtEnd: outstanding,
    window,
    cpuCoresBusy: cores,
    cpuMicrosecondsPerMessage: cpuPerMessage(cores, delivered, [
      'server',
      'postgres',
      'redis',
      'bench client',
    ]),
  };
}

/** One message every 1/rate s, round robin over the pairs; latency from the send to the receipt. */
async function runPaced(wired, rate, seconds, roles) {
  const { pairs, state } = wired;
  const latencies = [];
  const fromSchedule = [];
  // [arrival ms since the phase began, latency ms] of each message slower than SLOW_MS.
  const slow = [];
  for (const pair of pairs) {
    pair.pacedFrom = pair.next;
    pair.scheduled = [];
  }
  let outstanding = 0;
  state.onMessage = (pair, now, latency, seq) => {
    outstanding--;
    latencies.push(latency);
    if (latency > SLOW_MS) {
      slow.push([now - started, latency]);
    }
    const at = pair.scheduled[seq - pair.pacedFrom];
    if (at !== undefined) {
      fromSchedule.push(now - at);
    }
  };
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const cpu = cpuSnapshot();
  const started = performance.now();
  let sent = 0;
  await new Promise((resolveRun) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
      while (sent < due) {
        const pair = pairs[sent % pairs.length];
        outstanding++;
        const seq = send(pair);
        pair.scheduled[seq - pair.pacedFrom] = started + sent * interval;
        sent++;
      }
      if (sent >= total) {
        resolveRun();
      } else {
        setTimeout(tick, 1);
      }
    };
    setTimeout(tick, 1);
  });
  const elapsed = (performance.now() - started) / 1000;
  const deadline = performance.now() + 10_000;
  while (outstanding > 0 && performance.now() < deadline) {
    await sleep(20);
  }
  const cores = cpu.stop(roles);
  state.onMessage = undefined;
  latencies.sort((a, b) => a - b);
  fromSchedule.sort((a, b) => a - b);

  return {
    targetRate: rate,
    achievedRate: r1(total / elapsed),
    sent: total,
    received: latencies.length,
    lost: outstanding,
    sendToReceiveMs: {
      p50: r2(percentile(latencies, 0.5)),
      p99: r2(percentile(latencies, 0.99)),
      max: r2(latencies.at(-1) ?? NaN),
    },
    scheduledToReceiveMs: {
      p50: r2(percentile(fromSchedule, 0.5)),
      p99: r2(percentile(fromSchedule, 0.99)),
    },
    slow: slowSummary(slow),
    cpuCoresBusy: cores,
  };
}

const SLOW_MS = 5;
const SLOW_WINDOW_MS = 100;

/**
 * Whether the messages over SLOW_MS are spread out (a slow path) or bunched in a few
 * windows (stalls: garbage collection, a slow commit, the machine). The worst windows
 * are listed by arrival time, so they can be matched with a server log such as --trace-gc.
 */
function slowSummary(slow) {
  const windows = new Map();
  for (const [at, latency] of slow) {
    const key = Math.floor(at / SLOW_WINDOW_MS);
    const w = windows.get(key) ?? { atMs: key * SLOW_WINDOW_MS, count: 0, maxMs: 0 };
    w.count++;
    w.maxMs = Math.max(w.maxMs, r2(latency));
    windows.set(key, w);
  }
  const worst = [...windows.values()].sort((a, b) => b.count - a.count).slice(0, 5);

  return {
    overMs: SLOW_MS,
    count: slow.length,
    windows: windows.size,
    windowMs: SLOW_WINDOW_MS,
    worst,
  };
}

function monotonicUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

async function archiveCount() {
  const db = new pg.Client({ connectionString: databaseUrl(opts) });
  await db.connect();
  const { rows } = await db.query(
    'SELECT count(*) FILTER (WHERE outgoing)::int AS sent, count(*) FILTER (WHERE NOT outgoing)::int AS received FROM archived_messages',
  );
  await db.end();

  return rows[0];
}

async function heapOf(target) {
  if (target.base === undefined) {
    return undefined;
  }
  const metrics = await scrapeMetrics(target.base);
  const used = metrics.get('nodejs_heap_size_used_bytes');

  return used === undefined ? undefined : used / 1024;
}

/**
 * The server's memory by part, in KiB: V8's heap (committed and used, by space) and
 * external memory from its metrics, and resident memory by mapping kind.
 */
async function memoryParts(target) {
  const parts = target.pid === undefined ? {} : residentByMapping(target.pid);
  if (target.base !== undefined) {
    const metrics = await scrapeMetrics(target.base);
    const kib = (name) => (metrics.get(name) ?? NaN) / 1024;
    parts.v8Committed = kib('nodejs_heap_size_total_bytes');
    parts.v8Used = kib('nodejs_heap_size_used_bytes');
    parts.external = kib('nodejs_external_memory_bytes');
    for (const space of ['new', 'old', 'code', 'map', 'large_object']) {
      parts[`${space}Committed`] = kib(`nodejs_heap_space_size_total_bytes{space="${space}"}`);
      parts[`${space}Used`] = kib(`nodejs_heap_space_size_used_bytes{space="${space}"}`);
    }
  }

  return parts;
}

/** Per-session change of every part between two memoryParts, in KiB. */
function partsPerSession(before, after, sessions) {
  const change = {};
  for (const [name, value] of Object.entries(after)) {
    if (Number.isFinite(value) && Number.isFinite(before[name])) {
      change[name] = r2((value - before[name]) / sessions);
    }
  }

  return change;
}

// ---------------------------------------------------------------- one server

async function benchServer(target) {
  const figures = { server: target.name, uptimeBefore: uptime() };
  log(`${target.name}: ${figures.uptimeBefore}`);
  const roles = { [process.pid]: 'bench client' };
  if (target.pid !== undefined) {
    roles[target.pid] = 'server';
  }
  const keyCache = new ScramKeyCache();
  const pairNumbers = Array.from({ length: 2 * opts.pairs }, (_, n) => n);
  const idleNumbers = Array.from({ length: opts.idleSessions }, (_, n) => 2 * opts.pairs + n);

  // 1. traffic sessions, warm-up
  const traffic = await loginMany(target, pairNumbers, keyCache, roles);
  log(
    `${traffic.clients.length} traffic sessions logged in (${traffic.figures.loginsPerSecond}/s)`,
  );
  // 2. memory per idle authenticated session, with cold logins; before any traffic has left
  // garbage on the heap, so a collection in between does not hide the sessions' cost
  if (opts.idleSessions > 0) {
    await sleep(5000);
    const rssBefore = target.pid === undefined ? NaN : vmRssKiB(target.pid);
    const heapBefore = await heapOf(target);
    const partsBefore = await memoryParts(target);
    const cold = await loginMany(target, idleNumbers, keyCache, roles);
    log(`${opts.idleSessions} idle sessions (cold keys): ${cold.figures.loginsPerSecond}/s`);
    // Sampled for `settle` seconds while the sessions idle: a collector (V8's, Lua's) gives
    // back the login garbage only some time after the work stops; the last sample counts.
    const rssSeries = [];
    for (let second = 0; second < opts.settle; second++) {
      await sleep(1000);
      rssSeries.push(target.pid === undefined ? NaN : vmRssKiB(target.pid));
    }
    const rssAfter = rssSeries.at(-1) ?? NaN;
    const heapAfter = await heapOf(target);
    const partsAfter = await memoryParts(target);
    figures.memory = {
      sessions: opts.idleSessions,
      vmRssBeforeKiB: rssBefore,
      vmRssAfter5sKiB: rssSeries[4] ?? NaN,
      vmRssAfterKiB: rssAfter,
      settleSeconds: opts.settle,
      perSessionAfter5sKiB: r2(((rssSeries[4] ?? NaN) - rssBefore) / opts.idleSessions),
      perSessionKiB: r2((rssAfter - rssBefore) / opts.idleSessions),
      ...(heapBefore === undefined || heapAfter === undefined
        ? {}
        : { jsHeapPerSessionKiB: r2((heapAfter - heapBefore) / opts.idleSessions) }),
      partsPerSessionKiB: partsPerSession(partsBefore, partsAfter, opts.idleSessions),
    };
    figures.loginsCold = cold.figures;
    await closeAll(cold.clients);
    await sleep(2000);

    // 3. the same accounts again, with the client's cached SCRAM keys
    const warm = await loginMany(target, idleNumbers, keyCache, roles);
    log(`${opts.idleSessions} logins again (cached keys): ${warm.figures.loginsPerSecond}/s`);
    figures.logins = warm.figures;
    figures.loginWindow = warm.window;
    await closeAll(warm.clients);
    await sleep(2000);
  }

  const wired = wirePairs(traffic.clients);
  if (opts.warmup > 0) {
    await runThroughput(wired, opts.warmup, roles);
  }
  let archivedBefore;
  if (target.name === 'relay') {
    archivedBefore = await archiveCount();
  }
  const receivedBefore = wired.state.received;

  // 4. throughput
  log(`throughput: ${opts.pairs} pairs x ${opts.inFlight} in flight, ${opts.duration} s`);
  const metricsBefore = target.base === undefined ? undefined : await scrapeMetrics(target.base);
  figures.throughput = await runThroughput(wired, opts.duration, roles);
  if (metricsBefore !== undefined) {
    figures.throughput.archiveCommits = archiveStats(
      metricsBefore,
      await scrapeMetrics(target.base),
    );
  }
  log(`throughput: ${figures.throughput.messagesPerSecond} msg/s`);

  // 5. latency at a fixed rate
  log(
    `latency: ${opts.rate} msg/s for ${opts.latencyDuration} s${
      target.spawnedAt === undefined
        ? ''
        : ` (server +${r1((performance.now() - target.spawnedAt) / 1000)} s, for its --trace-gc times)`
    }`,
  );
  const latencyMetricsBefore =
    target.base === undefined ? undefined : await scrapeMetrics(target.base);
  figures.latency = await runPaced(wired, opts.rate, opts.latencyDuration, roles);
  if (latencyMetricsBefore !== undefined) {
    const after = await scrapeMetrics(target.base);
    figures.latency.archiveCommits = archiveStats(latencyMetricsBefore, after);
    // The lag histogram restarts at every scrape: this is the longest the server's event loop
    // was held up during the phase, to tell a server stall from one elsewhere.
    figures.latency.serverEventLoopLagMaxMs = r2(
      (after.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    );
  }
  log(
    `latency: p50 ${figures.latency.sendToReceiveMs.p50} ms, p99 ${figures.latency.sendToReceiveMs.p99} ms`,
  );

  figures.integrity = {
    deliveredAfterWarmup: wired.state.received - receivedBefore,
    duplicates: wired.state.duplicates,
    duplicateSamples: wired.state.duplicateSamples,
    misrouted: wired.state.misrouted,
    errorStanzas: wired.state.errors,
    unexpectedCloses: wired.state.unexpectedCloses,
  };
  if (target.name === 'relay') {
    await sleep(500);
    const archived = await archiveCount();
    figures.integrity.archivedSenderSide = archived.sent - archivedBefore.sent;
    figures.integrity.archivedRecipientSide = archived.received - archivedBefore.received;
  }
  figures.scramKeyCache = { derived: keyCache.misses, reused: keyCache.hits };
  if (opts.sm) {
    figures.sm = await benchStreamManagement(target, wired, keyCache, roles);
  }
  await closeAll(traffic.clients);

  return figures;
}

/**
 * 6. throughput with and without XEP-0198, on two sets of sessions logged in
 * side by side (the second with acks both ways), in alternating rounds
 * (A B B A ...) so that load drifting over the run weighs on both alike.
 */
async function benchStreamManagement(target, plainWired, keyCache, roles) {
  const first = 2 * opts.pairs + opts.idleSessions;
  const numbers = Array.from({ length: 2 * opts.pairs }, (_, n) => first + n);
  const traffic = await loginMany(target, numbers, keyCache, roles, true);
  log(`${traffic.clients.length} traffic sessions with stream management logged in`);
  const wired = wirePairs(traffic.clients);
  if (opts.warmup > 0) {
    await runThroughput(wired, opts.warmup, roles);
  }
  const receivedBefore = wired.state.received;
  const rounds = [];
  for (let i = 0; i < 2 * opts.smRounds; i++) {
    const sm = i % 4 === 1 || i % 4 === 2;
    log(
      `round ${i + 1}: throughput ${sm ? `with stream management (ack every ${opts.ackEvery})` : 'without'}, ${opts.duration} s`,
    );
    const result = await runThroughput(sm ? wired : plainWired, opts.duration, roles);
    log(`round ${i + 1}: ${result.messagesPerSecond} msg/s`);
    rounds.push({ sm, ...result, window: undefined });
  }
  const summary = (sm) => {
    const mine = rounds.filter((round) => round.sm === sm);
    const delivered = mine.reduce((sum, round) => sum + round.delivered, 0);
    const seconds = mine.reduce((sum, round) => sum + round.seconds, 0);
    const serverSeconds = mine.reduce(
      (sum, round) => sum + (round.cpuCoresBusy?.server ?? NaN) * round.cpuCoresBusy.wallSeconds,
      0,
    );

    return {
      messagesPerSecond: r1(delivered / seconds),
      serverCpuMicrosecondsPerMessage: Math.round((serverSeconds * 1e6) / delivered),
      lostAtEnd: mine.reduce((sum, round) => sum + round.lostAtEnd, 0),
    };
  };
  await sleep(1500);
  const acks = { clientAsked: 0, serverAnswered: 0, serverAsked: 0 };
  for (const c of traffic.clients) {
    acks.clientAsked += c.sm.requested;
    acks.serverAnswered += c.sm.answered;
    acks.serverAsked += c.sm.acksSent;
  }
  const integrity = {
    deliveredAfterWarmup: wired.state.received - receivedBefore,
    duplicates: wired.state.duplicates,
    misrouted: wired.state.misrouted,
    errorStanzas: wired.state.errors,
    unexpectedCloses: wired.state.unexpectedCloses,
  };
  await closeAll(traffic.clients);

  return {
    ackEvery: opts.ackEvery,
    rounds,
    without: summary(false),
    with: summary(true),
    acks,
    integrity,
  };
}

// ---------------------------------------------------------------- report

function cores(cpu) {
  return Object.entries(cpu ?? {})
    .filter(([key, value]) => !['wallSeconds', 'otherProcesses'].includes(key) && value !== 0)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
}

function report(all) {
  const pass = (ok) => (ok ? 'PASS' : 'FAIL');
  console.log(`\n$ ${COMMAND}`);
  console.log(
    `(${opts.pairs} pairs, ${opts.inFlight} in flight per pair, ${opts.starttls ? 'STARTTLS' : 'plain TCP'}, ${opts.mechanism}, ` +
      `${opts.idleSessions} idle sessions, ${availableParallelism()} cores, node ${process.version})`,
  );
  for (const f of all) {
    const isRelay = f.server === 'relay';
    const target = (text) => (isRelay ? text : '');
    const rows = [
      [`[${f.server}] machine before the run`, f.uptimeBefore, ''],
      [
        'Messages delivered per second',
        `${f.throughput.messagesPerSecond} msg/s`,
        target(`>= 8000 (archive on)  ${pass(f.throughput.messagesPerSecond >= 8000)}`),
      ],
      ['  CPU per message (us)', cores(f.throughput.cpuMicrosecondsPerMessage), ''],
      ['  cores busy', cores(f.throughput.cpuCoresBusy), disturbance(f.throughput.cpuCoresBusy)],
      ...(f.throughput.archiveCommits === undefined
        ? []
        : [
            [
              '  archive commits / mean batch',
              `${f.throughput.archiveCommits.transactions} / ${f.throughput.archiveCommits.meanBatch}`,
              '',
            ],
          ]),
      [
        `Send-to-receive at ${f.latency.targetRate}/s (achieved ${f.latency.achievedRate})`,
        `p50 ${f.latency.sendToReceiveMs.p50} / p99 ${f.latency.sendToReceiveMs.p99} / max ${f.latency.sendToReceiveMs.max} ms`,
        target(`p99 < 5 ms  ${pass(f.latency.sendToReceiveMs.p99 < 5)}`),
      ],
      [
        '  from the scheduled send time',
        `p50 ${f.latency.scheduledToReceiveMs.p50} / p99 ${f.latency.scheduledToReceiveMs.p99} ms`,
        `sent ${f.latency.sent}, received ${f.latency.received}, lost ${f.latency.lost}`,
      ],
      [
        `  over ${f.latency.slow.overMs} ms`,
        `${f.latency.slow.count} messages in ${f.latency.slow.windows} windows of ${f.latency.slow.windowMs} ms${
          f.latency.serverEventLoopLagMaxMs === undefined
            ? ''
            : `; server event loop held up ${f.latency.serverEventLoopLagMaxMs} ms at most`
        }`,
        `worst: ${f.latency.slow.worst.map((w) => `${w.count} at ${(w.atMs / 1000).toFixed(1)} s (max ${w.maxMs})`).join(', ')}`,
      ],
      ...(f.latency.archiveCommits === undefined
        ? []
        : [
            [
              '  archive commits (server side)',
              `${f.latency.archiveCommits.transactions}, mean ${f.latency.archiveCommits.meanCommitMs} ms`,
              `over 1 ms ${f.latency.archiveCommits.percentCommitsOver1Ms} %, over 2 ms ${f.latency.archiveCommits.percentCommitsOver2Ms} %, over 5 ms ${f.latency.archiveCommits.percentCommitsOver5Ms} %`,
            ],
          ]),
      ['  cores busy', cores(f.latency.cpuCoresBusy), disturbance(f.latency.cpuCoresBusy)],
    ];
    if (f.sm !== undefined) {
      const ratio = f.sm.with.messagesPerSecond / f.sm.without.messagesPerSecond;
      const i = f.sm.integrity;
      rows.push(
        [
          `Stream management (ack every ${f.sm.ackEvery}), ${f.sm.rounds.length} alternating rounds`,
          `${f.sm.with.messagesPerSecond} msg/s with, ${f.sm.without.messagesPerSecond} without`,
          `${r1(ratio * 100)} % ` + target(`>= 85 %  ${pass(ratio >= 0.85)}`),
        ],
        [
          '  rounds (msg/s)',
          f.sm.rounds.map((r) => `${r.sm ? 'SM' : 'plain'} ${r.messagesPerSecond}`).join(', '),
          '',
        ],
        [
          '  server CPU per message (us)',
          `${f.sm.with.serverCpuMicrosecondsPerMessage} with, ${f.sm.without.serverCpuMicrosecondsPerMessage} without`,
          '',
        ],
        [
          '  acks',
          `client asked ${f.sm.acks.clientAsked}, server answered ${f.sm.acks.serverAnswered}`,
          `server asked ${f.sm.acks.serverAsked}`,
        ],
        [
          '  integrity with SM',
          `delivered ${i.deliveredAfterWarmup}`,
          `dup ${i.duplicates}, misrouted ${i.misrouted}, errors ${i.errorStanzas}, closes ${i.unexpectedCloses}, lost ${f.sm.with.lostAtEnd}`,
        ],
      );
    }
    if (f.memory !== undefined) {
      rows.push(
        [
          `Memory per idle authenticated session (${f.memory.sessions})`,
          `${f.memory.perSessionKiB} KiB VmRSS`,
          target(`< 25 KB  ${pass(f.memory.perSessionKiB * 1.024 < 25)}`) +
            `  (VmRSS ${f.memory.vmRssBeforeKiB} -> ${f.memory.vmRssAfterKiB} KiB after ${f.memory.settleSeconds} s idle; ${f.memory.perSessionAfter5sKiB} KiB/session after 5 s${f.memory.jsHeapPerSessionKiB === undefined ? '' : `; JS heap ${f.memory.jsHeapPerSessionKiB} KiB/session`})`,
        ],
        [
          '  by part (KiB/session)',
          '',
          Object.entries(f.memory.partsPerSessionKiB)
            .map(([name, value]) => `${name} ${value}`)
            .join(', '),
        ],
        [
          `SCRAM logins per second (cached client keys, ${f.logins.sessions})`,
          `${f.logins.loginsPerSecond}/s`,
          target(`>= 500  ${pass(f.logins.loginsPerSecond >= 500)}`) +
            `  (login p50 ${f.logins.loginMs.p50} / p99 ${f.logins.loginMs.p99} ms)`,
        ],
        ['  CPU per login (us)', cores(f.logins.cpuMicrosecondsPerLogin), ''],
        ['  cores busy', cores(f.logins.cpuCoresBusy), disturbance(f.logins.cpuCoresBusy)],
        [
          '  first logins (client derives every key)',
          `${f.loginsCold.loginsPerSecond}/s`,
          `cores busy: ${cores(f.loginsCold.cpuCoresBusy)}`,
        ],
      );
    }
    const i = f.integrity;
    rows.push([
      'Integrity (after warm-up)',
      `delivered ${i.deliveredAfterWarmup}${i.archivedSenderSide === undefined ? '' : `, archived ${i.archivedSenderSide}/${i.archivedRecipientSide}`}`,
      `dup ${i.duplicates}, misrouted ${i.misrouted}, errors ${i.errorStanzas}, closes ${i.unexpectedCloses}, lost ${f.throughput.lostAtEnd + f.latency.lost}`,
    ]);
    const w0 = Math.max(...rows.map((row) => row[0].length));
    const w1 = Math.max(...rows.map((row) => row[1].length));
    console.log('');
    for (const [a, b, c] of rows) {
      console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
    }
  }
  for (const f of all) {
    for (const [phase, summary] of Object.entries(f.profile ?? {})) {
      if (typeof summary === 'object' && summary !== undefined) {
        console.log(`\n[${f.server}] server self time, ${phase} (${f.profile.file}):`);
        for (const row of summary.top) {
          console.log(`  ${String(row.pct).padStart(5)}%  ${row.name}`);
        }
      }
    }
  }
  const json = JSON.stringify({
    command: COMMAND,
    options: { ...opts, postgresUrl: undefined },
    results: all,
  });
  writeFileSync(join(RUN_DIR, 'results.json'), `${json}\n`);
  console.log(json);
}

// ---------------------------------------------------------------- main

async function main() {
  log(`run dir ${relative(ROOT, RUN_DIR)}`);
  const order = opts.server === 'both' ? ['relay', 'prosody'] : [opts.server];
  const results = [];
  for (const name of order) {
    let target;
    if (name === 'external') {
      target = { name: `${opts.host}:${opts.port}`, port: opts.port, pid: opts.serverPid };
    } else {
      target = name === 'relay' ? await startRelay() : await startProsodyTarget();
    }
    try {
      results.push(await benchServer(target));
    } finally {
      if (target.stop !== undefined) {
        log(`${target.name} stopped (${JSON.stringify(await target.stop())})`);
      }
    }
    const figures = results.at(-1);
    if (opts.cpuProf && target.profDir !== undefined && figures !== undefined) {
      const files = readdirSync(target.profDir).filter((name) => name.endsWith('.cpuprofile'));
      const file = files[0] === undefined ? undefined : join(target.profDir, files[0]);
      if (file !== undefined) {
        figures.profile = {
          file: relative(ROOT, file),
          logins:
            figures.loginWindow &&
            summarizeProfile(file, { ...figures.loginWindow, top: 15, root: ROOT }),
          throughput: summarizeProfile(file, { ...figures.throughput.window, top: 15, root: ROOT }),
        };
      }
    }
    if (results.length > 0) {
      report(results.slice(-1));
    }
  }
  if (results.length > 1) {
    report(results);
  }
  closeHttp();
}

main().catch((error) => {
  console.error(`xmpp bench failed: ${error.stack ?? error}`);
  process.exit(1);
});
