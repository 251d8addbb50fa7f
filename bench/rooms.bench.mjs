#!/usr/bin/env node
// Room fan-out benchmark: one message to a room whose members are all online
// over socket.io; the time from sending it until the last member has it.
// Messages go one at a time, so each figure is one fan-out on its own.
// Run after `npm run build`:
//
//   node bench/rooms.bench.mjs [--members 500] [--messages 300] [--warmup 20]
//        [--gap-ms 20] [--log-level warn] [--server-env KEY=value,KEY2=value]
//
// Every option may also be given as an environment variable: BENCH_MEMBERS,
// BENCH_MESSAGES, BENCH_WARMUP, BENCH_GAP_MS, BENCH_LOG_LEVEL, BENCH_SERVER_ENV,
// plus BENCH_POSTGRES_URL, BENCH_DATABASE, BENCH_REDIS_URL.
//
// Processes: this one (the sender and every member's socket.io client, so
// send and receive times share one clock) and the server under test, with
// PostgreSQL and Redis. Everything listens on and talks to 127.0.0.1 only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import pg from 'pg';
import { io } from 'socket.io-client';

import { cpuSnapshot } from './lib/cpu.mjs';
import { call, closeHttp, mapLimit, summary } from './lib/common.mjs';
import {
  benchArgs,
  commandLine,
  numberOption,
  serverEnvOption,
  storeOptions,
} from './lib/options.mjs';
import { startBenchServer } from './lib/server.mjs';
import { databaseUrl, resetStores } from './lib/stores.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const COMMAND = commandLine(import.meta.url);

const argv = benchArgs(import.meta.url, {
  members: { type: 'string' },
  messages: { type: 'string' },
  warmup: { type: 'string' },
  'gap-ms': { type: 'string' },
  'log-level': { type: 'string' },
  'server-env': { type: 'string' },
});
const env = process.env;
const opts = {
  members: Math.max(
    2,
    Math.floor(numberOption(argv, 'members', 500, { envName: 'BENCH_MEMBERS' })),
  ),
  messages: Math.max(
    1,
    Math.floor(numberOption(argv, 'messages', 300, { envName: 'BENCH_MESSAGES' })),
  ),
  warmup: Math.floor(numberOption(argv, 'warmup', 20, { envName: 'BENCH_WARMUP' })),
  gapMs: numberOption(argv, 'gap-ms', 20, { envName: 'BENCH_GAP_MS' }),
  logLevel: argv['log-level'] ?? env.BENCH_LOG_LEVEL ?? 'warn',
  serverEnv: serverEnvOption(argv['server-env'] ?? env.BENCH_SERVER_ENV),
  ...storeOptions({ database: 'relay_bench_rooms', redisDb: 10 }),
};
const DOMAIN = 'localhost';
const ADMIN_PASSWORD = 'bench-admin-password';
const ADMIN = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const TARGET_P99_MS = 250;
const RUN_DIR = join(HERE, '.runs', `rooms-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(RUN_DIR, { recursive: true });

const log = (message) =>
  process.stderr.write(`[rooms bench +${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);

// ---------------------------------------------------------------- stores and server

function startServer() {
  return startBenchServer({
    runDir: RUN_DIR,
    databaseUrl: databaseUrl(opts),
    redisUrl: opts.redisUrl,
    domain: DOMAIN,
    adminPassword: ADMIN_PASSWORD,
    logLevel: opts.logLevel,
    // Registration and login of the members are setup, not what is measured.
    env: { LOGIN_MAX_FAILURES_PER_ADDRESS: '100000', ...opts.serverEnv },
  });
}

// ---------------------------------------------------------------- the room and its members

async function setUpRoom(base) {
  const names = Array.from({ length: opts.members }, (_, i) => `m${i}`);
  const password = (name) => `bench-password-${name}`;
  await mapLimit(names, 8, async (name) => {
    const res = await call(base, 'POST', `/api/admin/users/${DOMAIN}`, {
      headers: { authorization: ADMIN },
      json: { username: name, password: password(name) },
    });
    if (res.status !== 201) {
      throw new Error(`register ${name}: ${res.status} ${res.body}`);
    }
  });
  const tokens = await mapLimit(names, 8, async (name) => {
    const res = await call(base, 'POST', '/api/tokens', {
      headers: {
        authorization: `Basic ${Buffer.from(`${name}@${DOMAIN}:${password(name)}`).toString('base64')}`,
      },
    });
    if (res.status !== 200) {
      throw new Error(`token ${name}: ${res.status} ${res.body}`);
    }

    return res.json.access_token;
  });
  const created = await call(base, 'PUT', '/api/rooms/bench', {
    headers: { authorization: `Bearer ${tokens[0]}` },
    json: { name: 'Benchmark room' },
  });
  if (created.status !== 201) {
    throw new Error(`create room: ${created.status} ${created.body}`);
  }
  await mapLimit(names.slice(1), 4, async (name) => {
    const res = await call(base, 'POST', '/api/admin/rooms/bench/users', {
      headers: { authorization: ADMIN },
      json: { user: `${name}@${DOMAIN}` },
    });
    if (res.status !== 204) {
      throw new Error(`add ${name}: ${res.status} ${res.body}`);
    }
  });

  return { room: 'bench', senderToken: tokens[0], tokens };
}

/** Every member online; each socket notes when each message reached it. */
async function connectMembers(base, tokens) {
  const state = { arrivals: new Map(), duplicates: 0, foreign: 0, disconnects: 0, sockets: [] };
  await mapLimit(tokens, 50, (token, index) => {
    const socket = io(base, {
      auth: { token, resource: 'bench' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    state.sockets.push(socket);
    const seen = new Set();
    socket.on('disconnect', () => state.disconnects++);
    socket.on('room:message', (message) => {
      const now = performance.now();
      if (message.room !== 'bench') {
        state.foreign++;

        return;
      }
      if (seen.has(message.id)) {
        state.duplicates++;

        return;
      }
      seen.add(message.id);
      // By id once the sender has the answer, by body before that.
      (state.arrivals.get(message.id) ?? state.arrivals.get(message.body))?.(now, index);
    });

    return new Promise((resolveSocket, reject) => {
      const timer = setTimeout(() => reject(new Error(`member ${index} did not connect`)), 20_000);
      socket.once('session', () => {
        clearTimeout(timer);
        resolveSocket();
      });
      socket.once('connect_error', (error) =>
        reject(new Error(`member ${index}: ${error.message}`)),
      );
    });
  });

  return state;
}

/**
 * Sends one message and waits for every member to have it. The id is known
 * only from the answer, so arrivals before it are kept by body tag and
 * matched up.
 */
async function fanOutOnce(base, room, token, members, seq) {
  const body = `fan-out ${seq}`;
  const startedAt = performance.now();
  let firstAt = Infinity;
  let lastAt = 0;
  let count = 0;
  let done;
  const complete = new Promise((resolveDone, reject) => {
    done = resolveDone;
    setTimeout(
      () => reject(new Error(`message ${seq}: ${count} of ${opts.members} after 10 s`)),
      10_000,
    ).unref();
  });
  const arrive = (now) => {
    count++;
    firstAt = Math.min(firstAt, now);
    lastAt = Math.max(lastAt, now);
    if (count === opts.members) {
      done();
    }
  };
  const pending = [];
  const holdUntilKnown = (now) => pending.push(now);
  members.arrivals.set(body, holdUntilKnown);
  const sent = await call(base, 'POST', `/api/rooms/${room}/messages`, {
    headers: { authorization: `Bearer ${token}` },
    json: { body },
  });
  const answeredAt = performance.now();
  if (sent.status !== 200) {
    throw new Error(`send ${seq}: ${sent.status} ${sent.body}`);
  }
  members.arrivals.delete(body);
  members.arrivals.set(sent.json.id, arrive);
  pending.forEach(arrive);
  await complete;
  members.arrivals.delete(sent.json.id);

  return {
    lastMs: lastAt - startedAt,
    firstMs: firstAt - startedAt,
    answerMs: answeredAt - startedAt,
    spreadMs: lastAt - firstAt,
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const roles = { [process.pid]: 'bench (members)' };
  const idle = cpuSnapshot();
  await sleep(1000);
  const busyBeforeStart = idle.stop(roles);
  await resetStores(opts);
  const server = await startServer();
  roles[server.child.pid] = 'server';
  log(`server pid ${server.child.pid} at ${server.base}; run dir ${relative(ROOT, RUN_DIR)}`);
  let members;
  try {
    const { room, senderToken, tokens } = await setUpRoom(server.base);
    log(`room of ${opts.members} members ready`);
    members = await connectMembers(server.base, tokens);
    log(`${members.sockets.length} members online over socket.io`);
    for (let seq = 0; seq < opts.warmup; seq++) {
      await fanOutOnce(server.base, room, senderToken, members, `w${seq}`);
    }
    log(`${opts.warmup} warm-up messages; measuring ${opts.messages}`);
    const cpu = cpuSnapshot();
    const samples = [];
    for (let seq = 0; seq < opts.messages; seq++) {
      samples.push(await fanOutOnce(server.base, room, senderToken, members, seq));
      if (opts.gapMs > 0) {
        await sleep(opts.gapMs);
      }
    }
    const cores = cpu.stop(roles);
    const archived = await archivedMessages();
    const figures = {
      command: COMMAND,
      options: { ...opts, postgresUrl: undefined },
      machine: { cores: availableParallelism(), node: process.version, busyBeforeStart },
      members: opts.members,
      messages: opts.messages,
      sendToLastMemberMs: summary(samples.map((sample) => sample.lastMs)),
      sendToFirstMemberMs: summary(samples.map((sample) => sample.firstMs)),
      sendToHttp200Ms: summary(samples.map((sample) => sample.answerMs)),
      firstToLastMemberMs: summary(samples.map((sample) => sample.spreadMs)),
      integrity: {
        deliveries: samples.length * opts.members,
        duplicates: members.duplicates,
        disconnects: members.disconnects,
        archivedMessages: archived,
        expectedArchived: opts.warmup + opts.messages,
      },
      cpuCoresBusy: cores,
    };
    report(figures);
    writeFileSync(join(RUN_DIR, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  } finally {
    members?.sockets.forEach((socket) => socket.disconnect());
    await server.stop();
    closeHttp();
  }
}

async function archivedMessages() {
  const client = new pg.Client({ connectionString: databaseUrl(opts) });
  await client.connect();
  const { rows } = await client.query(
    "SELECT count(*)::int AS count FROM room_messages WHERE room_id = 'bench' AND kind = 'message'",
  );
  await client.end();

  return rows[0].count;
}

function report(f) {
  const pass = (ok) => (ok ? 'PASS' : 'FAIL');
  const i = f.integrity;
  const line = (s) => `p50 ${s.p50} / p90 ${s.p90} / p99 ${s.p99} / max ${s.max} ms`;
  const busy = Object.entries(f.cpuCoresBusy)
    .filter(([key]) => key !== 'wallSeconds')
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
  console.log(`\n$ ${f.command}`);
  console.log(
    `(${f.members} members online over socket.io, ${f.messages} messages one at a time; ${f.machine.cores} cores, node ${f.machine.node}; LOG_LEVEL=${f.options.logLevel})`,
  );
  console.log(
    `send to last member   ${line(f.sendToLastMemberMs)}   p99 < ${TARGET_P99_MS} ms  ${pass(f.sendToLastMemberMs.p99 < TARGET_P99_MS)}`,
  );
  console.log(`send to first member  ${line(f.sendToFirstMemberMs)}`);
  console.log(`send to HTTP 200      ${line(f.sendToHttp200Ms)}`);
  console.log(`first to last member  ${line(f.firstToLastMemberMs)}`);
  console.log(
    `integrity: ${i.deliveries} deliveries, ${i.duplicates} duplicates, ${i.disconnects} disconnects, archived ${i.archivedMessages} of ${i.expectedArchived}  ${pass(i.duplicates === 0 && i.disconnects === 0 && i.archivedMessages === i.expectedArchived)}`,
  );
  const foreign =
    Math.round(((f.cpuCoresBusy.other ?? 0) + (f.cpuCoresBusy.unattributed ?? 0)) * 100) / 100;
  console.log(
    `cores busy (avg): ${busy}${foreign > 0.2 ? `\nDISTURBED: ${foreign} cores used by other work during the run` : ''}`,
  );
  console.log(JSON.stringify(f));
}

main().catch((error) => {
  console.error(`rooms bench failed: ${error.stack ?? error}`);
  process.exit(1);
});
