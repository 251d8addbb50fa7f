#!/usr/bin/env node
// Webhook delivery benchmark. Run after `npm run build`:
//
//   node bench/webhooks.bench.mjs [--messages 20000] [--rate 500] [--seconds 10] [--outage 8]
//
// Starts the server (PostgreSQL and Redis on this machine) and, in this
// process, local receivers on 127.0.0.1. Phases:
//   1. throughput: messages sent as fast as 64 connections allow; deliveries/s at the receiver
//   2. latency at a fixed rate: send answered (committed) → delivery received, p50/p99
//   3. the same with a second endpoint that never answers: the healthy one's p99
//   4. the receiver down for a while, then back: every event delivered once, none lost
import { spawn } from 'node:child_process';
import { createServer, Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
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
  while (!predicate()) {
    if (Date.now() > deadline) {
      return false;
    }
    await sleep(20);
  }

  return true;
}

async function main() {
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const server = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      ...process.env,
      HTTP_PORT: String(PORT),
      HTTP_HOST: '127.0.0.1',
      // Free ports: runs side by side must not collide on 5222/5223.
      XMPP_C2S_PORT: '0',
      XMPP_C2S_TLS_PORT: '0',
      DATABASE_URL: POSTGRES.replace(/\/[^/]*$/, `/${DATABASE}`),
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `bench-webhooks-${Date.now()}:`,
      ADMIN_PASSWORD: 'bench-admin',
      LOG_LEVEL: 'warn',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_RETRY_SCHEDULE: '0,1s,1s,2s,2s,5s,5s,5s,5s,5s',
      WEBHOOK_SWEEP_SECONDS: '2',
      WEBHOOK_TIMEOUT_MS: '15000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    for (let i = 0; i < 100; i += 1) {
      if ((await call('GET', '/health', '').catch(() => ({ status: 0 }))).status === 200) {
        break;
      }
      await sleep(200);
    }
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

    // 1. throughput
    const total = Number(args.messages);
    const throughputStart = performance.now();
    const workers = Array.from({ length: 64 }, async () => {
      while (sent < total) {
        await send();
      }
    });
    await Promise.all(workers);
    const sendSeconds = (performance.now() - throughputStart) / 1000;
    await until(() => healthy.arrivals.size >= total, 120_000);
    const deliverSeconds = (performance.now() - throughputStart) / 1000;
    const throughput = {
      messages: total,
      sendPerSecond: Math.round(total / sendSeconds),
      deliveredPerSecond: Math.round(healthy.arrivals.size / deliverSeconds),
      delivered: healthy.arrivals.size,
    };

    // 2. and 3. latency at a fixed rate, alone and beside a hanging endpoint
    const paced = async () => {
      const rate = Number(args.rate);
      const seconds = Number(args.seconds);
      const samples = [];
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
      };
    };
    const alone = await paced();
    const hanging = receiver(5332, { hang: true });
    await hanging.listen();
    const stuck = await call('POST', '/api/admin/webhooks', ADMIN, {
      url: 'http://127.0.0.1:5332/hook',
      events: ['message.created'],
      max_concurrency: 4,
    });
    await sleep(500);
    const besideHanging = await paced();
    await call('DELETE', `/api/admin/webhooks/${stuck.body.id}`, ADMIN);
    await hanging.close();

    // 4. receiver down, then back
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
    const outage = {
      sentWhileDown: outageIds.length,
      deliveredAfter: outageIds.filter((id) => back.arrivals.has(id)).length,
      duplicatesSeen: back.count - back.arrivals.size,
      complete: allBack,
      firstSent: outageStart,
    };
    await back.close();

    const figures = {
      command: COMMAND,
      throughput,
      latency: alone,
      latencyBesideHangingEndpoint: besideHanging,
      outage,
      endpoint: endpoint.body.id,
    };
    console.log(`\n${COMMAND}`);
    console.log(
      `throughput: ${throughput.deliveredPerSecond} deliveries/s (${throughput.delivered}/${total} delivered; sends ${throughput.sendPerSecond}/s)`,
    );
    console.log(
      `latency at ${alone.rate}/s, commit→delivery: p50 ${alone.p50} ms, p99 ${alone.p99} ms, max ${alone.max} ms`,
    );
    console.log(
      `  beside a hanging endpoint: p50 ${besideHanging.p50} ms, p99 ${besideHanging.p99} ms, max ${besideHanging.max} ms`,
    );
    console.log(
      `receiver down ${args.outage} s: ${outage.deliveredAfter}/${outage.sentWhileDown} delivered after it came back, ${outage.duplicatesSeen} repeated requests`,
    );
    console.log(JSON.stringify(figures));
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.on('exit', resolve));
  }
}

await main();
process.exit(0);
