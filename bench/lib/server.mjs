// The server under test, as every benchmark starts it: the build `npm run build`
// made, `npm start`'s node flags, real PostgreSQL and Redis, listening on
// 127.0.0.1 only, with its output in the run's folder.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { call, freePort, SERVER_NODE_FLAGS } from './common.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const READY_WITHIN_MS = 60_000;
const STOP_WITHIN_MS = 15_000;

/**
 * Starts the server and resolves once `/health/ready` answers 200.
 * `env` adds to (or overrides) the settings every run shares; XMPP listens
 * on a free port only when `c2sPort` is asked for, so runs side by side do
 * not collide on 5222/5223.
 */
export async function startBenchServer({
  runDir,
  logName = 'server.log',
  databaseUrl,
  redisUrl,
  domain,
  adminPassword,
  logLevel,
  nodeArgs = SERVER_NODE_FLAGS,
  entry = join(ROOT, 'dist/src/main.js'),
  c2s = false,
  env = {},
}) {
  const httpPort = await freePort();
  const c2sPort = c2s ? await freePort() : undefined;
  const logFile = join(runDir, logName);
  const fd = openSync(logFile, 'a');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      XMPP_C2S_PORT: String(c2sPort ?? 0),
      XMPP_C2S_TLS_PORT: '0',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      DATA_DIR: join(runDir, 'data'),
      XMPP_DOMAINS: domain,
      ADMIN_USERNAME: 'admin',
      ADMIN_PASSWORD: adminPassword,
      LOG_LEVEL: logLevel,
      ...env,
    },
  });
  closeSync(fd);
  let exited = null;
  const exit = new Promise((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit((exited = { code, signal }))),
  );
  const base = `http://127.0.0.1:${httpPort}`;
  await untilReady(base, child, () => exited, logFile);

  return {
    child,
    base,
    httpPort,
    c2sPort,
    logFile,
    /** When the process was started (performance.now()), to match its --trace-gc times. */
    spawnedAt,
    /** SIGTERM, then SIGKILL if it has not exited in 15 s; resolves with how it exited. */
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
        await exit;
        clearTimeout(timer);
      }

      return exited;
    },
  };
}

async function untilReady(base, child, exited, logFile) {
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    if (exited() !== null) {
      throw new Error(
        `server exited during startup (${JSON.stringify(exited())}); see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
      );
    }
    const ready = await call(base, 'GET', '/health/ready').then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) {
      return;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready after ${READY_WITHIN_MS / 1000} s; see ${logFile}`);
    }
    await sleep(100);
  }
}
