#!/usr/bin/env node
// Webhook delivery benchmark. Run after `npm run build`:
//
//   node bench/webhooks.bench.mjs [--messages 20000] [--rate 500] [--seconds 10] [--outage 8]
//
// Starts the server (PostgreSQL and Redis on this machine) and, in this
// process, local receivers on 127.0.0.1. Phases:
//   1. delivery throughput from a backlog: messages sent with the server's workers off
//      (WEBHOOK_WORKERS=off), then the server restarted with workers on; deliveries/s
//      from the first delivery to the last. Sending is slower than delivering on this
//      machine, so only a backlog shows what delivery alone can do.
//   2. throughput while sending: messages sent as fast as 64 connections allow, delivered
//      meanwhile; bounded by the send rate
//   3. latency at a fixed rate: send answered (committed) → delivery received, p50/p99
//   4. the same with a second endpoint that never answers: the healthy one's p99
//   5. the receiver down for a while, then back: every event delivered once, none lost
import { spawn } from 'node:child_process';
import { createServer, Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import pg from 'pg';

import { SERVER_NODE_FLAGS } from './lib/common.mjs';
import { cpuSnapshot } from './lib/cpu.mjs';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    backlog: { type: 'string' },
    phases: { type: 'string', default: 'backlog,live,latency,hanging,outage' },
    'cpu-prof': { type: 'boolean', default: false },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    outage: { type: 'string', default: '8' },
  },
});
const COMMAND = ['node', 'bench/webhooks.bench.mjs', ...process.argv.slice(2)].join(' ');
const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DATABASE = 'relay_webhook_bench';
const PORT = 5330;
const BASE = `http://127.0.0.1:${PORT}`;
const ADMIN = `Basic ${Buffer.from('admin:bench-admin').toString('base64')}`;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const PHASES = new Set(args.phases.split(','));
const PROFILE_DIR = `bench/.runs/webhooks-profile-${Date.now()}`;

function call(method, path, auth, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${BASE}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: auth,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode, body: text === '' ? undefined : JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A receiver: records event ids and arrival times; `hang` never answers. */
function receiver(port, { hang = false } = {}) {
  const arrivals = new Map();
  let count = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (hang) {
        return;
      }
      const event = JSON.parse(Buffer.concat(chunks).toString());
      count += 1;
      if (!arrivals.has(event.data.id)) {
        arrivals.set(event.data.id, performance.now());
      }
      res.writeHead(200).end();
    });
  });

  return {
    arrivals,
    get count() {
      return count;
    },
    listen: () => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function until(predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) {
      return false;
    }
    await sleep(20);
  }

  return true;
}

/** The server with its workers `on` or `off`, ready for requests. */
async function startServer(prefix, workers) {
  const profile = args['cpu-prof'];
  const nodeArgs = [
    ...SERVER_NODE_FLAGS,
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/src/main.js'], {
    env: {
      ...process.env,
      HTTP_PORT: String(PORT),
      HTTP_HOST: '127.0.0.1',
      // Free ports: runs side by side must not collide on 5222/5223.
      XMPP_C2S_PORT: '0',
      XMPP_C2S_TLS_PORT: '0',
      DATABASE_URL: POSTGRES.replace(/\/[^/]*$/, `/${DATABASE}`),
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: prefix,
      ADMIN_PASSWORD: 'bench-admin',
      LOG_LEVEL: 'warn',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_RETRY_SCHEDULE: '0,1s,1s,2s,2s,5s,5s,5s,5s,5s',
      WEBHOOK_SWEEP_SECONDS: '2',
      WEBHOOK_TIMEOUT_MS: '15000',
      WEBHOOK_WORKERS: workers,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (let i = 0; i < 100; i += 1) {
    if ((await call('GET', '/health', '').catch(() => ({ status: 0 }))).status === 200) {
      return { child, stop: () => (child.kill('SIGTERM'), exited) };
    }
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error('the server did not start');
}

async function main() {
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const prefix = `bench-webhooks-${Date.now()}:`;
  let server = await startServer(prefix, 'off');
  try {
    /** Who used the cores: the server, this process (receivers and load), the rest by name. */
    const roles = () => ({ [server.child.pid]: 'server', [process.pid]: 'bench' });
    const users = [];
    for (let i = 0; i < 20; i += 1) {
      await call('POST', '/api/admin/users/localhost', ADMIN, {
        username: `u${i}`,
        password: 'bench-password',
      });
      users.push(`Basic ${Buffer.from(`u${i}@localhost:bench-password`).toString('base64')}`);
    }
    const healthy = receiver(5331);
    await healthy.listen();
    const endpoint = await call('POST', '/api/admin/webhooks', ADMIN, {
      url: 'http://127.0.0.1:5331/hook',
      events: ['message.created'],
      max_concurrency: 16,
    });
    // Other nodes' endpoint caches would take up to 5 s; this node knows now.
    let sent = 0;
    const send = async () => {
      const index = sent++;
      const from = users[index % users.length];
      const started = performance.now();
      const result = await call('POST', '/api/messages', from, {
        to: `u${(index + 1) % users.length}@localhost`,
        body: `bench ${index}`,
      });

      return { id: result.body.id, committedAt: performance.now(), started };
    };

    /** Sends `count` messages over 64 connections; answers their ids and the send rate. */
    const sendMany = async (count) => {
      const ids = [];
      const startedAt = performance.now();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (ids.length < count) {
            ids.push(null);
            const slot = ids.length - 1;
            ids[slot] = (await send()).id;
          }
        }),
      );

      return { ids, perSecond: Math.round(count / ((performance.now() - startedAt) / 1000)) };
    };

    // 1. throughput from a backlog
    let backlog = null;
    if (PHASES.has('backlog')) {
      const backlogSize = Number(args.backlog ?? args.messages);
      const queued = await sendMany(backlogSize);
      const database = new pg.Client({
        connectionString: POSTGRES.replace(/\/[^/]*$/, `/${DATABASE}`),
      });
      await database.connect();
      await until(async () => {
        const [row] = (
          await database.query(
            `SELECT (SELECT count(*) FROM event_outbox) AS outbox, (SELECT count(*) FROM webhook_deliveries) AS deliveries`,
          )
        ).rows;

        return Number(row.outbox) === 0 && Number(row.deliveries) >= backlogSize;
      }, 60_000);
      await database.end();
      await server.stop();
      const restartedAt = performance.now();
      server = await startServer(prefix, 'on');
      const backlogCpu = cpuSnapshot();
      await until(() => queued.ids.every((id) => healthy.arrivals.has(id)), 120_000);
      const backlogCores = backlogCpu.stop(roles());
      const times = queued.ids.map((id) => healthy.arrivals.get(id)).filter(Number.isFinite);
      const [first, last] = [Math.min(...times), Math.max(...times)];
      backlog = {
        messages: backlogSize,
        sendPerSecond: queued.perSecond,
        delivered: times.length,
        deliveredPerSecond: Math.round(times.length / ((last - first) / 1000)),
        secondsFromRestart: +((last - restartedAt) / 1000).toFixed(2),
        cores: backlogCores,
      };
    } else {
      await server.stop();
      server = await startServer(prefix, 'on');
    }

    // 2. throughput while sending
    let throughput = null;
    if (PHASES.has('live')) {
      const total = Number(args.messages);
      const throughputStart = performance.now();
      const liveCpu = cpuSnapshot();
      const live = await sendMany(total);
      await until(() => live.ids.every((id) => healthy.arrivals.has(id)), 120_000);
      const liveCores = liveCpu.stop(roles());
      const deliverSeconds = (performance.now() - throughputStart) / 1000;
      throughput = {
        messages: total,
        sendPerSecond: live.perSecond,
        deliveredPerSecond: Math.round(total / deliverSeconds),
        delivered: live.ids.filter((id) => healthy.arrivals.has(id)).length,
        cores: liveCores,
      };
    }

    // 3. and 4. latency at a fixed rate, alone and beside a hanging endpoint
    const paced = async () => {
      const rate = Number(args.rate);
      const seconds = Number(args.seconds);
      const samples = [];
      const cpu = cpuSnapshot();
      const start = performance.now();
      const pending = [];
      for (let i = 0; i < rate * seconds; i += 1) {
        const due = start + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) {
          await sleep(wait);
        }
        pending.push(send().then((message) => samples.push(message)));
      }
      await Promise.all(pending);
      const cores = cpu.stop(roles());
      await until(() => samples.every((message) => healthy.arrivals.has(message.id)), 60_000);
      const latencies = samples
        .map((message) => healthy.arrivals.get(message.id) - message.committedAt)
        .filter(Number.isFinite)
        .sort((a, b) => a - b);

      return {
        rate,
        seconds,
        p50: +percentile(latencies, 50).toFixed(1),
        p99: +percentile(latencies, 99).toFixed(1),
        max: +latencies.at(-1).toFixed(1),
        missing: samples.length - latencies.length,
        cores,
      };
    };
    const alone = PHASES.has('latency') ? await paced() : null;
    let besideHanging = null;
    if (PHASES.has('hanging')) {
      const hanging = receiver(5332, { hang: true });
      await hanging.listen();
      const stuck = await call('POST', '/api/admin/webhooks', ADMIN, {
        url: 'http://127.0.0.1:5332/hook',
        events: ['message.created'],
        max_concurrency: 4,
      });
      await sleep(500);
      besideHanging = await paced();
      await call('DELETE', `/api/admin/webhooks/${stuck.body.id}`, ADMIN);
      await hanging.close();
    }

    // 5. receiver down, then back
    let outage = null;
    if (PHASES.has('outage')) {
      await healthy.close();
      const outageStart = sent;
      const outageEnd = performance.now() + Number(args.outage) * 1000;
      const outageIds = [];
      while (performance.now() < outageEnd) {
        outageIds.push((await send()).id);
      }
      const back = receiver(5331);
      await back.listen();
      const allBack = await until(() => outageIds.every((id) => back.arrivals.has(id)), 120_000);
      outage = {
        sentWhileDown: outageIds.length,
        deliveredAfter: outageIds.filter((id) => back.arrivals.has(id)).length,
        duplicatesSeen: back.count - back.arrivals.size,
        complete: allBack,
        firstSent: outageStart,
      };
      await back.close();
    }

    const figures = {
      command: COMMAND,
      backlog,
      throughput,
      latency: alone,
      latencyBesideHangingEndpoint: besideHanging,
      outage,
      endpoint: endpoint.body.id,
    };
    console.log(`\n${COMMAND}`);
    if (backlog !== null) {
      console.log(
        `throughput from a backlog: ${backlog.deliveredPerSecond} deliveries/s (${backlog.delivered}/${backlog.messages} delivered, first to last; all ${backlog.secondsFromRestart} s after the restart; sent with workers off at ${backlog.sendPerSecond}/s)`,
      );
    }
    if (throughput !== null) {
      console.log(
        `throughput while sending: ${throughput.deliveredPerSecond} deliveries/s (${throughput.delivered}/${throughput.messages} delivered; sends ${throughput.sendPerSecond}/s, the bound)`,
      );
    }
    if (alone !== null) {
      console.log(
        `latency at ${alone.rate}/s, commit→delivery: p50 ${alone.p50} ms, p99 ${alone.p99} ms, max ${alone.max} ms`,
      );
    }
    if (besideHanging !== null) {
      console.log(
        `  beside a hanging endpoint: p50 ${besideHanging.p50} ms, p99 ${besideHanging.p99} ms, max ${besideHanging.max} ms`,
      );
    }
    for (const [phase, figure] of Object.entries({
      backlog,
      throughput,
      latency: alone,
      besideHanging,
    })) {
      if (figure !== null) {
        console.log(`  cores busy during ${phase}: ${JSON.stringify(figure.cores)}`);
      }
    }
    if (outage !== null) {
      console.log(
        `receiver down ${args.outage} s: ${outage.deliveredAfter}/${outage.sentWhileDown} delivered after it came back, ${outage.duplicatesSeen} repeated requests`,
      );
    }
    console.log(JSON.stringify(figures));
  } finally {
    await server.stop();
  }
  if (args['cpu-prof']) {
    console.log(
      `server CPU profile in ${PROFILE_DIR} (summary: node bench/lib/profile-summary.mjs FILE)`,
    );
  }
}

await main();
process.exit(0);
