#!/usr/bin/env node
// Messaging benchmark: REST send throughput with every recipient online over
// socket.io, send-to-receive latency at a fixed rate, and the bare-HTTP
// ceiling on the same machine. Run after `npm run build`:
//
//   node bench/messaging.bench.mjs [--duration 12] [--pairs 100] [--connections 100]
//        [--rate 1000] [--latency-duration 12] [--warmup 3] [--log-level warn]
//        [--cpu-prof] [--skip-bare] [--wait-quiet 0] [--server-node-args=--trace-gc]
//        [--server-entry dist/src/main.js] [--server-env MODULES=realtime,sse]
//
// Every option may also be given as an environment variable: BENCH_DURATION,
// BENCH_PAIRS, BENCH_CONNECTIONS, BENCH_RATE, BENCH_LATENCY_DURATION,
// BENCH_WARMUP, BENCH_LOG_LEVEL, BENCH_CPU_PROF=1, BENCH_SKIP_BARE=1, BENCH_SERVER_NODE_ARGS,
// BENCH_SERVER_ENTRY, BENCH_SERVER_ENV, BENCH_WAIT_QUIET,
// plus BENCH_POSTGRES_URL, BENCH_DATABASE, BENCH_REDIS_URL.
//
// Processes: this one (orchestrator, the socket.io receivers, and the paced
// latency sender, so send and receive times share one clock), the server
// under test, and a fresh load-generator child (autocannon) per autocannon
// phase. Everything listens on and talks to 127.0.0.1 only.
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

import pg from 'pg';

import { cpuSnapshot, disturbance } from './lib/cpu.mjs';
import { connectReceiver } from './lib/socket-receiver.mjs';
import { summarizeProfile } from './lib/profile-summary.mjs';
import {
  agent,
  basic,
  call,
  closeHttp,
  mapLimit,
  percentile,
  SERVER_NODE_FLAGS,
} from './lib/common.mjs';
import {
  benchArgs,
  commandLine,
  numberOption,
  serverEnvOption,
  storeOptions,
} from './lib/options.mjs';
import { archiveStats, cpuPerMessage, scrapeMetrics } from './lib/server-metrics.mjs';
import { startBenchServer } from './lib/server.mjs';
import { databaseUrl, resetStores } from './lib/stores.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const COMMAND = commandLine(import.meta.url);

// ---------------------------------------------------------------- options

const argv = benchArgs(import.meta.url, {
  duration: { type: 'string' },
  pairs: { type: 'string' },
  connections: { type: 'string' },
  rate: { type: 'string' },
  'latency-duration': { type: 'string' },
  warmup: { type: 'string' },
  'log-level': { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  'skip-bare': { type: 'boolean' },
  'server-node-args': { type: 'string' },
  'server-entry': { type: 'string' },
  'wait-quiet': { type: 'string' },
  'server-env': { type: 'string' },
});
const env = process.env;
const num = (flag, envName, fallback) =>
  numberOption(argv, flag, fallback, { envName, positive: true });
const opts = {
  duration: num('duration', 'BENCH_DURATION', 12),
  pairs: Math.floor(num('pairs', 'BENCH_PAIRS', 100)),
  connections: Math.floor(num('connections', 'BENCH_CONNECTIONS', 100)),
  rate: num('rate', 'BENCH_RATE', 1000),
  latencyDuration: num('latency-duration', 'BENCH_LATENCY_DURATION', 12),
  warmup: num('warmup', 'BENCH_WARMUP', 3),
  logLevel: argv['log-level'] ?? env.BENCH_LOG_LEVEL ?? 'warn',
  cpuProf: argv['cpu-prof'] ?? env.BENCH_CPU_PROF === '1',
  skipBare: argv['skip-bare'] ?? env.BENCH_SKIP_BARE === '1',
  // another build of the server to compare against (A/B); default the one `npm run build` made
  serverEntry: resolve(
    argv['server-entry'] ?? env.BENCH_SERVER_ENTRY ?? join(ROOT, 'dist/src/main.js'),
  ),
  // wait up to this many seconds for the machine to be idle before starting (0: don't wait)
  waitQuiet: Number(argv['wait-quiet'] ?? env.BENCH_WAIT_QUIET ?? 0),
  // extra environment for the server child, "KEY=value,KEY2=value" (e.g. MODULES=realtime to compare)
  serverEnv: serverEnvOption(argv['server-env'] ?? env.BENCH_SERVER_ENV),
  // The same V8 flags as `npm start` and the Docker image, so the figures are those of the server as shipped;
  // or others, e.g. "--max-semi-space-size=64 --trace-gc" (output goes to the server log).
  serverNodeArgs:
    (argv['server-node-args'] ?? env.BENCH_SERVER_NODE_ARGS)?.split(' ').filter(Boolean) ??
    SERVER_NODE_FLAGS,
  ...storeOptions({ database: 'relay_bench', redisDb: 9 }),
};
const DOMAIN = 'localhost';
const ADMIN_PASSWORD = 'bench-admin-password';

const RUN_DIR = join(HERE, '.runs', new Date().toISOString().replace(/[:.]/g, '-'));
mkdirSync(RUN_DIR, { recursive: true });

const log = (message) =>
  process.stderr.write(`[bench +${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);

// ---------------------------------------------------------------- helpers

const r1 = (value) => Math.round(value * 10) / 10;
const r2 = (value) => Math.round(value * 100) / 100;

// ---------------------------------------------------------------- stores

async function archiveCounts() {
  const client = new pg.Client({ connectionString: databaseUrl(opts) });
  await client.connect();
  const { rows } = await client.query(
    `SELECT count(*) FILTER (WHERE outgoing)::int AS sent, count(*) FILTER (WHERE NOT outgoing)::int AS received FROM archived_messages`,
  );
  await client.end();

  return rows[0];
}

/** CPU per message is reported for these processes. */
const ROLES = ['server', 'bare server', 'postgres', 'redis', 'loadgen', 'bench (receivers)'];

/** The archive's commits over a phase, with the event-loop lag at its end. */
function phaseArchiveStats(before, after) {
  return {
    ...archiveStats(before, after),
    eventLoopLagP99Ms: r1((after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000),
  };
}

// ---------------------------------------------------------------- server under test

async function startServer() {
  const profDir = join(RUN_DIR, 'prof');
  const server = await startBenchServer({
    runDir: RUN_DIR,
    logName: `server-${opts.logLevel}.log`,
    databaseUrl: databaseUrl(opts),
    redisUrl: opts.redisUrl,
    domain: DOMAIN,
    adminPassword: ADMIN_PASSWORD,
    logLevel: opts.logLevel,
    nodeArgs: [
      ...opts.serverNodeArgs,
      ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    ],
    entry: opts.serverEntry,
    env: opts.serverEnv,
  });

  return { ...server, profDir };
}

// ---------------------------------------------------------------- users, tokens, receivers

async function createPairs(base) {
  const admin = basic('admin', ADMIN_PASSWORD);
  const names = Array.from({ length: opts.pairs }, (_, i) => [`s${i}`, `r${i}`]).flat();
  const password = (name) => `bench-password-${name}`;
  await mapLimit(names, 8, async (name) => {
    const res = await call(base, 'POST', `/api/admin/users/${DOMAIN}`, {
      headers: { authorization: admin },
      json: { username: name, password: password(name) },
    });
    if (res.status !== 201) {
      throw new Error(`register ${name}: ${res.status} ${res.body}`);
    }
  });
  const tokens = await mapLimit(names, 8, async (name) => {
    const res = await call(base, 'POST', '/api/tokens', {
      headers: { authorization: basic(`${name}@${DOMAIN}`, password(name)) },
    });
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`token ${name}: ${res.status} ${res.body}`);
    }

    return res.json.access_token;
  });
  const byName = new Map(names.map((name, i) => [name, tokens[i]]));

  return Array.from({ length: opts.pairs }, (_, i) => ({
    from: `s${i}@${DOMAIN}`,
    to: `r${i}@${DOMAIN}`,
    token: byName.get(`s${i}`),
    recipientToken: byName.get(`r${i}`),
  }));
}

/**
 * Connects every recipient; counts what arrives, by the tag at the start of
 * each body. The receivers speak socket.io's protocol themselves
 * (lib/socket-receiver.mjs): they are part of the rig, not of the server.
 */
async function connectReceivers(base, pairs) {
  const state = {
    ids: new Set(),
    duplicates: 0,
    misrouted: 0,
    byTag: new Map(),
    latency: [],
    sockets: [],
    lastAt: performance.now(),
    disconnects: 0,
  };
  const onMessage = (pair, message) => {
    const now = performance.now();
    state.lastAt = now;
    if (state.ids.has(message.id)) {
      state.duplicates++;
    } else {
      state.ids.add(message.id);
    }
    if (message.to !== pair.to || message.from !== pair.from) {
      state.misrouted++;
    }
    const body = message.body;
    const bar = body.indexOf('|');
    const tag = body.slice(0, bar);
    state.byTag.set(tag, (state.byTag.get(tag) ?? 0) + 1);
    if (tag === 'lat') {
      // lat|seq|scheduledMs|sentMs
      const [, seq, scheduled, sent] = body.split('|');
      state.latency.push({
        seq: Number(seq),
        fromSend: now - Number(sent),
        fromSchedule: now - Number(scheduled),
      });
    }
  };
  state.sockets = await Promise.all(
    pairs.map((pair) =>
      connectReceiver(
        base,
        { token: pair.recipientToken },
        {
          handlers: { message: (message) => onMessage(pair, message) },
          readyEvent: 'session',
          onClose: () => state.disconnects++,
        },
      ).catch((error) => {
        throw new Error(`socket for ${pair.to}: ${error.message}`);
      }),
    ),
  );

  return state;
}

/** Waits until `expected` ids have all arrived, or nothing new arrived for `quietMs`. */
async function drain(receivers, ids, quietMs = 3000) {
  for (;;) {
    const missing = ids.filter((id) => !receivers.ids.has(id)).length;
    if (missing === 0 || performance.now() - receivers.lastAt > quietMs) {
      return missing;
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------- load phases

/** Runs autocannon in a child process against `url`; resolves {summary, ids, pid}. */
function runLoad(url, { duration, tag, pairs, roles, cpu }) {
  return new Promise((resolveLoad, reject) => {
    const child = fork(join(HERE, 'lib/load-child.mjs'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    roles[child.pid] = 'loadgen';
    const snapshot = cpu ? cpuSnapshot() : undefined;
    let answer;
    let usage;
    child.once('message', (message) => {
      answer = message;
      // read /proc while the load generator still exists, so its CPU is counted
      usage = snapshot?.stop(roles);
    });
    child.once('exit', (code) => {
      if (answer === undefined) {
        reject(new Error(`load generator exited with ${code} and no result`));

        return;
      }
      resolveLoad({ ...answer, pid: child.pid, cpu: usage });
    });
    child.send({
      url,
      connections: opts.connections,
      pipelining: 1,
      duration,
      tag,
      pairs: pairs.map(({ from, to, token }) => ({ from, to, token })),
    });
  });
}

/** Paced sender in this process: `rate` messages/s for `seconds`, send time in the body. */
async function runPaced(base, pairs, { rate, seconds }) {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const responses = [];
  const statuses = {};
  const ids = [];
  let errors = 0;
  let sent = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const start = performance.now() + 5;
  const send = (seq) => {
    const pair = pairs[seq % pairs.length];
    const scheduled = start + seq * interval;
    const sentAt = performance.now();
    const payload = Buffer.from(
      JSON.stringify({
        to: pair.to,
        body: `lat|${seq}|${scheduled.toFixed(4)}|${sentAt.toFixed(4)}`,
      }),
    );
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const req = httpRequest(
      {
        agent,
        hostname: '127.0.0.1',
        port: new URL(base).port,
        path: '/api/messages',
        method: 'POST',
        headers: {
          authorization: `Bearer ${pair.token}`,
          'content-type': 'application/json',
          'content-length': payload.length,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          inFlight--;
          responses.push(performance.now() - sentAt);
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode >= 200 && res.statusCode < 300) {
            ids.push(JSON.parse(Buffer.concat(chunks).toString('utf8')).id);
          }
        });
      },
    );
    req.on('error', () => {
      inFlight--;
      errors++;
    });
    req.end(payload);
  };
  await new Promise((resolveRun) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) {
        send(sent++);
      }
      if (sent >= total) {
        resolveRun();
      } else {
        setTimeout(tick, 1);
      }
    };
    setTimeout(tick, 5);
  });
  const elapsed = (performance.now() - start) / 1000;
  while (inFlight > 0) {
    await sleep(10);
  }

  return { total, elapsed, statuses, ids, errors, responses, maxInFlight };
}

// ---------------------------------------------------------------- main

async function main() {
  const roles = { [process.pid]: 'bench (receivers)' };
  const figures = {
    command: COMMAND,
    options: { ...opts, postgresUrl: undefined },
    machine: { cores: (await import('node:os')).availableParallelism(), node: process.version },
  };
  log(`run dir ${relative(ROOT, RUN_DIR)}`);
  // Other work on the machine (a test run, a compiler) skews every figure: measure it first.
  const waitUntil = performance.now() + opts.waitQuiet * 1000;
  for (;;) {
    const idle = cpuSnapshot();
    await sleep(1000);
    figures.machine.busyBeforeStart = idle.stop(roles);
    if (
      figures.machine.busyBeforeStart.machineIdle >= figures.machine.cores - 0.15 ||
      performance.now() > waitUntil
    ) {
      break;
    }
    log(
      `machine busy (idle ${figures.machine.busyBeforeStart.machineIdle} of ${figures.machine.cores} cores); waiting`,
    );
  }
  delete figures.machine.busyBeforeStart.wallSeconds;
  await resetStores(opts);
  const server = await startServer();
  roles[server.child.pid] = 'server';
  log(
    `server pid ${server.child.pid} ready at ${server.base} (LOG_LEVEL=${opts.logLevel}${opts.cpuProf ? ', --cpu-prof' : ''})`,
  );
  let receivers;
  try {
    const pairs = await createPairs(server.base);
    log(`${opts.pairs} pairs registered with tokens`);
    receivers = await connectReceivers(server.base, pairs);
    log(`${receivers.sockets.length} recipients online over socket.io`);

    // 1. warm-up, then throughput with every recipient online
    log(`warm-up ${opts.warmup} s`);
    const warm = await runLoad(server.base, { duration: opts.warmup, tag: 'warm', pairs, roles });
    await drain(receivers, warm.ids);
    log(`throughput ${opts.duration} s, ${opts.connections} connections`);
    const metricsBefore = await scrapeMetrics(server.base);
    const tpCpu = { t0: process.hrtime.bigint() };
    const tp = await runLoad(server.base, {
      duration: opts.duration,
      tag: 'tp',
      pairs,
      roles,
      cpu: true,
    });
    tpCpu.t1 = process.hrtime.bigint();
    const tpMissing = await drain(receivers, tp.ids);
    const tpBatches = phaseArchiveStats(metricsBefore, await scrapeMetrics(server.base));
    const tpReceived = receivers.byTag.get('tp') ?? 0;
    figures.throughput = {
      messagesPerSecond: r1(tp.summary.ok / tp.summary.duration),
      durationSeconds: r2(tp.summary.duration),
      ok2xx: tp.summary.ok,
      non2xx: tp.summary.non2xx,
      errors: tp.summary.errors,
      timeouts: tp.summary.timeouts,
      statuses: tp.summary.statuses,
      receivedOverSocketIo: tpReceived,
      acknowledgedButNotReceived: tpMissing,
      receivedButNotAcknowledged: tpReceived - (tp.ids.length - tpMissing),
      httpLatencyMs: tp.summary.latency,
      cpuCoresBusy: tp.cpu,
      cpuMicrosecondsPerMessage: cpuPerMessage(tp.cpu, tpReceived, ROLES),
      archiveCommits: tpBatches,
    };

    // 2. latency at a fixed rate
    log(`latency: ${opts.rate} msg/s for ${opts.latencyDuration} s`);
    receivers.latency.length = 0;
    const latMetrics = await scrapeMetrics(server.base);
    const latWindow = { fromUs: Number(process.hrtime.bigint() / 1000n) };
    const latCpu = cpuSnapshot();
    const lat = await runPaced(server.base, pairs, {
      rate: opts.rate,
      seconds: opts.latencyDuration,
    });
    const latMissing = await drain(receivers, lat.ids);
    const latency = latCpu.stop(roles);
    latWindow.toUs = Number(process.hrtime.bigint() / 1000n);
    const latBatches = phaseArchiveStats(latMetrics, await scrapeMetrics(server.base));
    writeFileSync(
      join(RUN_DIR, 'latency.csv'),
      `seq,send_to_receive_ms,scheduled_to_receive_ms\n${receivers.latency.map((row) => `${row.seq},${row.fromSend.toFixed(3)},${row.fromSchedule.toFixed(3)}`).join('\n')}\n`,
    );
    const fromSend = receivers.latency.map((row) => row.fromSend).sort((a, b) => a - b);
    const fromSchedule = receivers.latency.map((row) => row.fromSchedule).sort((a, b) => a - b);
    const responses = lat.responses.sort((a, b) => a - b);
    const ok = lat.ids.length;
    figures.latency = {
      targetRate: opts.rate,
      achievedRate: r1(lat.total / lat.elapsed),
      sent: lat.total,
      ok2xx: ok,
      non2xx: lat.total - ok - lat.errors,
      errors: lat.errors,
      statuses: lat.statuses,
      received: fromSend.length,
      acknowledgedButNotReceived: latMissing,
      sendToReceiveMs: {
        p50: r2(percentile(fromSend, 0.5)),
        p99: r2(percentile(fromSend, 0.99)),
        max: r2(fromSend.at(-1)),
      },
      scheduledToReceiveMs: {
        p50: r2(percentile(fromSchedule, 0.5)),
        p99: r2(percentile(fromSchedule, 0.99)),
        max: r2(fromSchedule.at(-1)),
      },
      sendToHttpResponseMs: {
        p50: r2(percentile(responses, 0.5)),
        p99: r2(percentile(responses, 0.99)),
        max: r2(responses.at(-1)),
      },
      maxInFlight: lat.maxInFlight,
      cpuCoresBusy: latency,
      cpuMicrosecondsPerMessage: cpuPerMessage(latency, fromSend.length, ROLES),
      archiveCommits: latBatches,
    };

    // archived == delivered, over every phase
    const archived = await archiveCounts();
    const delivered = receivers.ids.size;
    figures.integrity = {
      archivedSenderSide: archived.sent,
      archivedRecipientSide: archived.received,
      deliveredUnique: delivered,
      duplicates: receivers.duplicates,
      misrouted: receivers.misrouted,
      socketDisconnects: receivers.disconnects,
      allPhases2xx: warm.ids.length + tp.ids.length + ok,
    };
    figures.profileWindow = { fromUs: Number(tpCpu.t0 / 1000n), toUs: Number(tpCpu.t1 / 1000n) };
    figures.latencyProfileWindow = latWindow;
  } finally {
    for (const socket of receivers?.sockets ?? []) {
      socket.close();
    }
    const exit = await server.stop();
    log(`server stopped (${JSON.stringify(exit)})`);
  }

  if (opts.cpuProf) {
    const files = readdirSync(server.profDir).filter((name) => name.endsWith('.cpuprofile'));
    if (files.length > 0) {
      const file = join(server.profDir, files[0]);
      const summary = summarizeProfile(file, { ...figures.profileWindow, top: 15, root: ROOT });
      figures.serverProfile = { file: relative(ROOT, file), ...figures.profileWindow, ...summary };
    }
  }
  delete figures.profileWindow;
  if (!opts.cpuProf) {
    delete figures.latencyProfileWindow;
  } else if (figures.serverProfile !== undefined) {
    figures.serverProfile.latencyWindow = figures.latencyProfileWindow;
    delete figures.latencyProfileWindow;
  }

  // 3. the ceiling: a bare node:http server under the same autocannon settings
  if (!opts.skipBare) {
    const bare = fork(join(HERE, 'lib/bare-server.mjs'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { PORT: '0' },
    });
    roles[bare.pid] = 'bare server';
    const port = await new Promise((resolvePort) =>
      bare.once('message', (message) => resolvePort(message.port)),
    );
    log(`bare HTTP server pid ${bare.pid} on ${port}: ${opts.duration} s`);
    const pairs = Array.from({ length: opts.pairs }, (_, i) => ({
      from: `s${i}@${DOMAIN}`,
      to: `r${i}@${DOMAIN}`,
      token: `at_${'x'.repeat(43)}`,
    }));
    await runLoad(`http://127.0.0.1:${port}`, {
      duration: Math.min(2, opts.warmup),
      tag: 'warm',
      pairs,
      roles,
    });
    const result = await runLoad(`http://127.0.0.1:${port}`, {
      duration: opts.duration,
      tag: 'bare',
      pairs,
      roles,
      cpu: true,
    });
    bare.kill('SIGTERM');
    figures.bare = {
      requestsPerSecond: r1(result.summary.ok / result.summary.duration),
      ok2xx: result.summary.ok,
      non2xx: result.summary.non2xx,
      errors: result.summary.errors,
      httpLatencyMs: result.summary.latency,
      cpuCoresBusy: result.cpu,
      cpuMicrosecondsPerRequest: cpuPerMessage(result.cpu, result.summary.ok, ROLES),
    };
    figures.ratioMessagingToBare = r2(
      figures.throughput.messagesPerSecond / figures.bare.requestsPerSecond,
    );
  }

  report(figures);
  closeHttp();
}

function cores(cpu) {
  return Object.entries(cpu ?? {})
    .filter(
      ([key, value]) =>
        key !== 'wallSeconds' && key !== 'otherProcesses' && (value !== 0 || key === 'machineIdle'),
    )
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
}

function report(f) {
  const t = f.throughput;
  const l = f.latency;
  const i = f.integrity;
  const pass = (ok) => (ok ? 'PASS' : 'FAIL');
  const verified =
    t.acknowledgedButNotReceived === 0 &&
    l.acknowledgedButNotReceived === 0 &&
    i.duplicates === 0 &&
    i.misrouted === 0 &&
    i.archivedSenderSide === i.deliveredUnique;
  f.verified = verified;
  const rows = [
    [
      'REST send throughput (all recipients online)',
      `${t.messagesPerSecond} msg/s`,
      `>= 3000  ${pass(t.messagesPerSecond >= 3000)}`,
    ],
    [
      '  2xx / non-2xx / errors / timeouts',
      `${t.ok2xx} / ${t.non2xx} / ${t.errors} / ${t.timeouts}`,
      '',
    ],
    [
      '  received over socket.io (this phase)',
      `${t.receivedOverSocketIo}`,
      `acked-not-received ${t.acknowledgedButNotReceived}, received-not-acked ${t.receivedButNotAcknowledged} (cut at stop)`,
    ],
    [
      '  HTTP latency p50 / p99 / max',
      `${t.httpLatencyMs.p50} / ${t.httpLatencyMs.p99} / ${t.httpLatencyMs.max} ms`,
      '',
    ],
    [
      '  CPU per message (us)',
      cores(t.cpuMicrosecondsPerMessage),
      'robust to other load, unlike msg/s',
    ],
    [
      '  archive commits / mean batch',
      `${t.archiveCommits.transactions} / ${t.archiveCommits.meanBatch}`,
      `event-loop lag p99 ${t.archiveCommits.eventLoopLagP99Ms} ms`,
    ],
    ['  cores busy (avg)', cores(t.cpuCoresBusy), disturbance(t.cpuCoresBusy)],
    [
      `Send-to-receive at ${l.targetRate} msg/s (achieved ${l.achievedRate})`,
      `p50 ${l.sendToReceiveMs.p50} / p99 ${l.sendToReceiveMs.p99} / max ${l.sendToReceiveMs.max} ms`,
      `p99 < 25 ms  ${pass(l.sendToReceiveMs.p99 < 25)}`,
    ],
    [
      '  from scheduled send time (incl. sender lag)',
      `p50 ${l.scheduledToReceiveMs.p50} / p99 ${l.scheduledToReceiveMs.p99} / max ${l.scheduledToReceiveMs.max} ms`,
      '',
    ],
    [
      '  send to HTTP 200',
      `p50 ${l.sendToHttpResponseMs.p50} / p99 ${l.sendToHttpResponseMs.p99} / max ${l.sendToHttpResponseMs.max} ms`,
      '',
    ],
    [
      '  sent / 2xx / non-2xx / errors / received',
      `${l.sent} / ${l.ok2xx} / ${l.non2xx} / ${l.errors} / ${l.received}`,
      '',
    ],
    ['  CPU per message (us)', cores(l.cpuMicrosecondsPerMessage), ''],
    [
      '  archive commits / mean batch',
      `${l.archiveCommits.transactions} / ${l.archiveCommits.meanBatch}`,
      `event-loop lag p99 ${l.archiveCommits.eventLoopLagP99Ms} ms`,
    ],
    ['  cores busy (avg)', cores(l.cpuCoresBusy), disturbance(l.cpuCoresBusy)],
  ];
  if (f.bare !== undefined) {
    rows.push([
      'Bare node:http JSON POST (same autocannon settings)',
      `${f.bare.requestsPerSecond} req/s`,
      `non-2xx ${f.bare.non2xx}, errors ${f.bare.errors}`,
    ]);
    rows.push(['  cores busy (avg)', cores(f.bare.cpuCoresBusy), disturbance(f.bare.cpuCoresBusy)]);
    rows.push(['  CPU per request (us)', cores(f.bare.cpuMicrosecondsPerRequest), '']);
    rows.push([
      '  ratio messaging / bare',
      `${f.ratioMessagingToBare}`,
      `>= 0.25  ${pass(f.ratioMessagingToBare >= 0.25)}`,
    ]);
  }
  rows.push([
    'Integrity: archived (sender side) / delivered unique',
    `${i.archivedSenderSide} / ${i.deliveredUnique}`,
    `dup ${i.duplicates}, misrouted ${i.misrouted}, disconnects ${i.socketDisconnects}  ${pass(verified)}`,
  ]);
  f.disturbedPhases = Object.entries({
    throughput: t.cpuCoresBusy,
    latency: l.cpuCoresBusy,
    bare: f.bare?.cpuCoresBusy,
  })
    .filter(([, cpu]) => disturbance(cpu) !== '')
    .map(([phase]) => phase);
  const w0 = Math.max(...rows.map((row) => row[0].length));
  const w1 = Math.max(...rows.map((row) => row[1].length));
  console.log(`\n$ ${f.command}`);
  console.log(`machine before start: ${cores(f.machine.busyBeforeStart) || 'idle'}`);
  console.log(
    `(${f.options.pairs} pairs, ${f.options.connections} connections, pipelining 1, ${f.options.duration} s; LOG_LEVEL=${f.options.logLevel}; ${f.machine.cores} cores, node ${f.machine.node})`,
  );
  for (const [a, b, c] of rows) {
    console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  }
  if (f.serverProfile !== undefined) {
    console.log(
      `\nServer self time during the throughput phase (${f.serverProfile.file}, ${Math.round(f.serverProfile.windowMs)} ms sampled):`,
    );
    for (const row of f.serverProfile.top) {
      console.log(`  ${String(row.pct).padStart(5)}%  ${row.name}`);
    }
    console.log('  by subsystem (sample charged to its nearest frame in one):');
    for (const row of f.serverProfile.subsystems) {
      console.log(`  ${String(row.pct).padStart(5)}%  ${row.name}`);
    }
  }
  console.log(JSON.stringify(f));
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exit(1);
});
