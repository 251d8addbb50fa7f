// Small helpers every benchmark uses: a free loopback port, bounded
// concurrency, percentiles, and JSON over one keep-alive HTTP agent.
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/**
 * The node flags `npm start` gives the server (package.json's start script,
 * which the Dockerfile repeats), so every benchmark measures the server as
 * shipped.
 */
export const SERVER_NODE_FLAGS = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
)
  .scripts.start.split(' ')
  .filter((word) => word.startsWith('--'));

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index], index);
      }
    }),
  );

  return results;
}

/** The q-quantile (0..1) of an ascending array, nearest rank; NaN when empty. */
export function percentile(sorted, q) {
  if (sorted.length === 0) {
    return NaN;
  }

  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Rounded p50, p90, p99, max and mean of a list of figures. */
export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const r1 = (value) => Math.round(value * 10) / 10;

  return {
    p50: r1(percentile(sorted, 0.5)),
    p90: r1(percentile(sorted, 0.9)),
    p99: r1(percentile(sorted, 0.99)),
    max: r1(sorted.at(-1) ?? NaN),
    mean: r1(sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)),
  };
}

export const basic = (user, password) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The keep-alive agent `call` uses, for a benchmark that builds its own requests. */
export const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request over the shared keep-alive agent; resolves `{status, body, json}`. */
export function call(base, method, path, { headers = {}, json } = {}) {
  return new Promise((resolveCall, reject) => {
    const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const url = new URL(path, base);
    const req = httpRequest(
      {
        agent,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let parsed;
          try {
            parsed = JSON.parse(body);
          } catch {
            parsed = undefined;
          }
          resolveCall({ status: res.statusCode, body, json: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Closes the shared agent's idle connections, so the process can exit. */
export function closeHttp() {
  agent.destroy();
}
