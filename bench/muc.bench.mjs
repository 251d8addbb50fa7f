#!/usr/bin/env node
// Multi-user chat fan-out benchmark (issue 5): a room with XMPP occupants
// (XEP-0045, joined on muc.localhost) and socket.io members; one message's
// time from sending until the last of them has it. Messages go one at a
// time and alternate between an XMPP occupant sending a groupchat stanza
// and a socket.io member posting over REST, so both paths are measured.
// Run after `npm run build`:
//
//   node bench/muc.bench.mjs [--occupants 200] [--members 200] [--messages 200]
//        [--warmup 20] [--gap-ms 20] [--log-level warn] [--server-env KEY=value,KEY2=value]
//
// Environment: BENCH_POSTGRES_URL, BENCH_DATABASE (default relay_bench_muc),
// BENCH_REDIS_URL (default redis://127.0.0.1:6379/12, flushed before each run).
//
// Processes: this one (every XMPP occupant on the raw-TCP load client of
// bench/lib/xmpp-load-client.mjs, every socket.io member, and the senders,
// so send and receive times share one clock) and the server under test
// (dist/src/main.js, XMPP_REQUIRE_TLS=false) with PostgreSQL and Redis.
// Everything listens on and talks to 127.0.0.1 only. Every recipient counts:
// the sending occupant's own copy (XEP-0045 section 7.4) and the posting
// member's socket too, so each message has occupants + members arrivals.
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
import {
  attrOf,
  childText,
  elementName,
  escapeXml,
  ScramKeyCache,
  XmppLoadClient,
} from './lib/xmpp-load-client.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const COMMAND = commandLine(import.meta.url);

const argv = benchArgs(import.meta.url, {
  occupants: { type: 'string' },
  members: { type: 'string' },
  messages: { type: 'string' },
  warmup: { type: 'string' },
  'gap-ms': { type: 'string' },
  'log-level': { type: 'string' },
  'server-env': { type: 'string' },
});
const opts = {
  occupants: Math.max(1, Math.floor(numberOption(argv, 'occupants', 200))),
  members: Math.max(1, Math.floor(numberOption(argv, 'members', 200))),
  messages: Math.max(2, Math.floor(numberOption(argv, 'messages', 200))),
  warmup: Math.floor(numberOption(argv, 'warmup', 20)),
  gapMs: numberOption(argv, 'gap-ms', 20),
  logLevel: argv['log-level'] ?? 'warn',
  serverEnv: serverEnvOption(argv['server-env']),
  ...storeOptions({ database: 'relay_bench_muc', redisDb: 12 }),
};
const DOMAIN = 'localhost';
const ROOM = 'bench';
const ROOM_JID = `${ROOM}@muc.${DOMAIN}`;
const ADMIN_PASSWORD = 'bench-admin-password';
const ADMIN = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const TARGET_P99_MS = 250;
const RUN_DIR = join(HERE, '.runs', `muc-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(RUN_DIR, { recursive: true });
const password = (name) => `bench-password-${name}`;

const log = (message) =>
  process.stderr.write(`[muc bench +${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);
const r1 = (value) => Math.round(value * 10) / 10;

// ---------------------------------------------------------------- stores and server

function startServer() {
  return startBenchServer({
    runDir: RUN_DIR,
    databaseUrl: databaseUrl(opts),
    redisUrl: opts.redisUrl,
    domain: DOMAIN,
    adminPassword: ADMIN_PASSWORD,
    logLevel: opts.logLevel,
    c2s: true,
    env: { XMPP_REQUIRE_TLS: 'false', LOGIN_MAX_FAILURES_PER_ADDRESS: '100000', ...opts.serverEnv },
  });
}

// ---------------------------------------------------------------- the room and its members

async function setUpRoom(base) {
  const xmppNames = Array.from({ length: opts.occupants }, (_, i) => `o${i}`);
  const socketNames = Array.from({ length: opts.members }, (_, i) => `s${i}`);
  await mapLimit([...xmppNames, ...socketNames], 8, async (name) => {
    const res = await call(base, 'POST', `/api/admin/users/${DOMAIN}`, {
      headers: { authorization: ADMIN },
      json: { username: name, password: password(name) },
    });
    if (res.status !== 201) {
      throw new Error(`register ${name}: ${res.status} ${res.body}`);
    }
  });
  const tokens = await mapLimit(socketNames, 8, async (name) => {
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
  const created = await call(base, 'POST', '/api/admin/rooms', {
    headers: { authorization: ADMIN },
    json: { owner: `o0@${DOMAIN}`, name: 'Benchmark room', id: ROOM },
  });
  if (created.status !== 201) {
    throw new Error(`create room: ${created.status} ${created.body}`);
  }
  await mapLimit([...xmppNames.slice(1), ...socketNames], 4, async (name) => {
    const res = await call(base, 'POST', `/api/admin/rooms/${ROOM}/users`, {
      headers: { authorization: ADMIN },
      json: { user: `${name}@${DOMAIN}` },
    });
    if (res.status !== 204) {
      throw new Error(`add ${name}: ${res.status} ${res.body}`);
    }
  });

  return { xmppNames, tokens };
}

/** Arrivals by message body: each recipient calls the waiting message's tally once. */
function newState() {
  return { arrivals: new Map(), duplicates: 0, disconnects: 0, sockets: [], occupants: [] };
}

function arrived(state, seen, body, now) {
  if (seen.has(body)) {
    state.duplicates++;

    return;
  }
  seen.add(body);
  state.arrivals.get(body)?.(now);
}

async function connectMembers(state, base, tokens) {
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
      if (message.room === ROOM && message.kind === 'message') {
        arrived(state, seen, message.body, performance.now());
      }
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
}

/** Logs every occupant in and has it join the room without history; resolves with join times. */
async function joinOccupants(state, port, names) {
  const keyCache = new ScramKeyCache();
  const joinMs = [];
  await mapLimit(names, 20, async (name) => {
    const client = new XmppLoadClient({
      host: '127.0.0.1',
      port,
      domain: DOMAIN,
      username: name,
      password: password(name),
      mechanism: 'SCRAM-SHA-1',
      resource: 'bench',
      keyCache,
      timeoutMs: 60_000,
    });
    await client.login();
    const seen = new Set();
    let joined;
    const self = new Promise((resolveJoin) => (joined = resolveJoin));
    const nickFrom = `${ROOM_JID}/${name}`;
    client.onStanza = (xml) => {
      const kind = elementName(xml);
      if (kind === 'message') {
        if (attrOf(xml, 'type') === 'groupchat' && !xml.includes('urn:xmpp:delay')) {
          const body = childText(xml, 'body');
          if (body !== undefined) {
            arrived(state, seen, body, performance.now());
          }
        }
      } else if (
        kind === 'presence' &&
        attrOf(xml, 'from') === nickFrom &&
        /code=['"]110['"]/.test(xml)
      ) {
        joined();
      }
    };
    client.onClosed = () => state.disconnects++;
    const started = performance.now();
    client.sendRaw(
      `<presence to='${nickFrom}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`,
    );
    await Promise.race([
      self,
      sleep(30_000).then(() => {
        throw new Error(`${name} did not join`);
      }),
    ]);
    joinMs.push(performance.now() - started);
    state.occupants.push(client);
  });

  return joinMs;
}

/** One message from `via` (the first occupant over XMPP, or the first member over REST) to everyone. */
async function fanOutOnce(state, base, token, via, seq) {
  const body = `fan-out ${seq}`;
  const expected = opts.occupants + opts.members;
  let count = 0;
  let lastAt = 0;
  let done;
  const complete = new Promise((resolveDone, reject) => {
    done = resolveDone;
    setTimeout(
      () => reject(new Error(`message ${seq}: ${count} of ${expected} after 10 s`)),
      10_000,
    ).unref();
  });
  state.arrivals.set(body, (now) => {
    count++;
    lastAt = Math.max(lastAt, now);
    if (count === expected) {
      done();
    }
  });
  const startedAt = performance.now();
  if (via === 'xmpp') {
    state.occupants[0].sendRaw(
      `<message to='${ROOM_JID}' type='groupchat' id='b${seq}'><body>${escapeXml(body)}</body></message>`,
    );
  } else {
    const sent = await call(base, 'POST', `/api/rooms/${ROOM}/messages`, {
      headers: { authorization: `Bearer ${token}` },
      json: { body },
    });
    if (sent.status !== 200) {
      throw new Error(`send ${seq}: ${sent.status} ${sent.body}`);
    }
  }
  await complete;
  state.arrivals.delete(body);

  return { via, lastMs: lastAt - startedAt };
}

async function archivedMessages() {
  const client = new pg.Client({ connectionString: databaseUrl(opts) });
  await client.connect();
  const { rows } = await client.query(
    "SELECT count(*)::int AS count FROM room_messages WHERE room_id = $1 AND kind = 'message'",
    [ROOM],
  );
  await client.end();

  return rows[0].count;
}

// ---------------------------------------------------------------- main

async function main() {
  const roles = { [process.pid]: 'bench (clients)' };
  const idle = cpuSnapshot();
  await sleep(1000);
  const busyBeforeStart = idle.stop(roles);
  await resetStores(opts);
  const server = await startServer();
  roles[server.child.pid] = 'server';
  log(`server pid ${server.child.pid} at ${server.base}; run dir ${relative(ROOT, RUN_DIR)}`);
  const state = newState();
  try {
    const { xmppNames, tokens } = await setUpRoom(server.base);
    log(`room of ${opts.occupants + opts.members} members ready`);
    await connectMembers(state, server.base, tokens);
    log(`${state.sockets.length} members online over socket.io`);
    const joinStarted = performance.now();
    const joinMs = await joinOccupants(state, server.c2sPort, xmppNames);
    const joinSeconds = (performance.now() - joinStarted) / 1000;
    log(`${state.occupants.length} occupants joined over XMPP in ${joinSeconds.toFixed(1)} s`);
    const via = (seq) => (seq % 2 === 0 ? 'xmpp' : 'rest');
    for (let seq = 0; seq < opts.warmup; seq++) {
      await fanOutOnce(state, server.base, tokens[0], via(seq), `w${seq}`);
    }
    log(`${opts.warmup} warm-up messages; measuring ${opts.messages}`);
    const cpu = cpuSnapshot();
    const samples = [];
    for (let seq = 0; seq < opts.messages; seq++) {
      samples.push(await fanOutOnce(state, server.base, tokens[0], via(seq), seq));
      if (opts.gapMs > 0) {
        await sleep(opts.gapMs);
      }
    }
    const cores = cpu.stop(roles);
    const figures = {
      command: COMMAND,
      options: { ...opts, postgresUrl: undefined },
      machine: { cores: availableParallelism(), node: process.version, busyBeforeStart },
      occupants: opts.occupants,
      members: opts.members,
      messages: opts.messages,
      joinMs: summary(joinMs),
      joinSeconds: r1(joinSeconds),
      sendToLastRecipientMs: summary(samples.map((sample) => sample.lastMs)),
      fromXmppMs: summary(samples.filter((s) => s.via === 'xmpp').map((s) => s.lastMs)),
      fromRestMs: summary(samples.filter((s) => s.via === 'rest').map((s) => s.lastMs)),
      integrity: {
        deliveries: samples.length * (opts.occupants + opts.members),
        duplicates: state.duplicates,
        disconnects: state.disconnects,
        archivedMessages: await archivedMessages(),
        expectedArchived: opts.warmup + opts.messages,
      },
      cpuCoresBusy: cores,
    };
    report(figures);
    writeFileSync(join(RUN_DIR, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  } finally {
    state.sockets.forEach((socket) => socket.disconnect());
    state.occupants.forEach((client) => client.destroy());
    await server.stop();
    closeHttp();
  }
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
    `(${f.occupants} XMPP occupants and ${f.members} socket.io members in one room, ${f.messages} messages one at a time, alternately from an occupant over XMPP and a member over REST; ${f.machine.cores} cores, node ${f.machine.node}; LOG_LEVEL=${f.options.logLevel})`,
  );
  console.log(
    `send to last recipient  ${line(f.sendToLastRecipientMs)}   p99 < ${TARGET_P99_MS} ms  ${pass(f.sendToLastRecipientMs.p99 < TARGET_P99_MS)}`,
  );
  console.log(`  sent over XMPP        ${line(f.fromXmppMs)}`);
  console.log(`  sent over REST        ${line(f.fromRestMs)}`);
  console.log(
    `joins: ${f.occupants} in ${f.joinSeconds} s, presence to self ${line(f.joinMs)} (20 at a time)`,
  );
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
  console.error(`muc bench failed: ${error.stack ?? error}`);
  process.exit(1);
});
