// Self time per function, and self/inclusive time per package, from a V8
// .cpuprofile, optionally only inside a window of monotonic time in
// microseconds (the clock of process.hrtime and of V8's profiler on Linux).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

function packageOf(url) {
  if (url === '') {
    return null;
  }
  const dep = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dep !== null) {
    return dep[1];
  }
  if (url.includes('/dist/src/')) {
    return `src/${url.split('/dist/src/')[1].split('/')[0]}`;
  }
  if (url.startsWith('node:')) {
    return url.split('/').slice(0, 2).join('/');
  }

  return url;
}

// Subsystems, matched from the sampled frame towards the root: each sample is
// charged to the nearest frame that belongs to one of these.
const SUBSYSTEMS = [
  [
    'logging (pino, pino-http, nestjs-pino)',
    /node_modules\/(pino|pino-http|nestjs-pino|@pinojs\/[^/]+|pino-std-serializers|sonic-boom)\//,
  ],
  [
    'metrics (prom-client, http-metrics)',
    /node_modules\/prom-client\/|observability\/http-metrics/,
  ],
  ['db: typeorm', /node_modules\/typeorm\//],
  ['db: pg driver', /node_modules\/(pg|pg-protocol|pg-pool|pg-types)\//],
  ['redis: ioredis', /node_modules\/(ioredis|redis-parser|@ioredis\/[^/]+)\//],
  [
    'socket.io / engine.io / ws',
    /node_modules\/(socket\.io|engine\.io|ws|socket\.io-parser|engine\.io-parser)\//,
  ],
  [
    'auth: passport',
    /node_modules\/(passport|passport-http-bearer|passport-strategy|@nestjs\/passport)\//,
  ],
  [
    'validation (class-validator/transformer)',
    /node_modules\/(class-validator|class-transformer|validator)\/|pipes\/validation\.pipe/,
  ],
  [
    'body parsing (body-parser, raw-body)',
    /node_modules\/(body-parser|raw-body|iconv-lite|type-is|content-type|bytes)\/|json-body\.middleware/,
  ],
  ['app code (dist/src)', /\/dist\/src\//],
  ['nest core / platform-express', /node_modules\/@nestjs\/(core|common|platform-express)\//],
  [
    'express / router',
    /node_modules\/(express|router|finalhandler|parseurl|send|on-finished|path-to-regexp|qs|etag)\//,
  ],
  ['node http', /^node:_http|^node:http/],
  ['node net / streams (syscalls)', /^node:(net|internal\/streams|internal\/stream_base)/],
  ['node crypto', /^node:internal\/crypto/],
  ['node async_hooks', /^node:(async_hooks|internal\/async_hooks)/],
];

export function summarizeProfile(file, { fromUs, toUs, top = 15, root = process.cwd() } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parents.set(child, node.id);
    }
  }
  const self = new Map();
  const packageSelf = new Map();
  const packageInclusive = new Map();
  const subsystems = new Map();
  const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);
  let time = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i];
    if ((fromUs !== undefined && time < fromUs) || (toUs !== undefined && time > toUs)) {
      continue;
    }
    const delta = profile.timeDeltas[i + 1] ?? 0;
    total += delta;
    const frame = nodes.get(profile.samples[i]).callFrame;
    const where =
      frame.url === ''
        ? ''
        : `${relative(root, frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}`;
    add(self, `${frame.functionName || '(anonymous)'} ${where}`.trim(), delta);
    add(packageSelf, packageOf(frame.url) ?? frame.functionName, delta);
    let subsystem = ['(garbage collector)', '(idle)', '(program)'].includes(frame.functionName)
      ? frame.functionName
      : undefined;
    for (
      let id = profile.samples[i];
      id !== undefined && subsystem === undefined;
      id = parents.get(id)
    ) {
      const url = nodes.get(id).callFrame.url;
      subsystem = SUBSYSTEMS.find(([, pattern]) => pattern.test(url))?.[0];
    }
    add(subsystems, subsystem ?? 'other', delta);
    const seen = new Set();
    for (let id = profile.samples[i]; id !== undefined; id = parents.get(id)) {
      const pkg = packageOf(nodes.get(id).callFrame.url);
      if (pkg !== null && !seen.has(pkg)) {
        seen.add(pkg);
        add(packageInclusive, pkg, delta);
      }
    }
  }
  const rank = (map, n) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 1000),
        pct: Math.round((1000 * us) / total) / 10,
      }));

  return {
    windowMs: Math.round(total / 1000),
    coveredWindow: fromUs === undefined || (profile.startTime <= fromUs && profile.endTime >= toUs),
    top: rank(self, top),
    packagesSelf: rank(packageSelf, top),
    packagesInclusive: rank(packageInclusive, top),
    subsystems: rank(subsystems, 20),
  };
}

// node bench/lib/profile-summary.mjs file.cpuprofile [fromUs toUs]
if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, from, to] = process.argv.slice(2);
  const summary = summarizeProfile(file, {
    top: 30,
    ...(from === undefined ? {} : { fromUs: Number(from), toUs: Number(to) }),
  });
  console.log(`sampled ${summary.windowMs} ms`);
  for (const key of ['top', 'subsystems', 'packagesSelf', 'packagesInclusive']) {
    console.log(`-- ${key}`);
    for (const row of summary[key]) {
      console.log(`${String(row.pct).padStart(5)}%  ${String(row.ms).padStart(6)} ms  ${row.name}`);
    }
  }
}
