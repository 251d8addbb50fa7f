// Command-line handling every benchmark shares: the command as typed (printed
// with the figures), --help from the script's header comment, numbers from a
// flag or the environment, the server's extra environment, and the
// benchmark's own PostgreSQL and Redis databases.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The command line that ran the script at `scriptUrl`, relative to the repository. */
export function commandLine(scriptUrl) {
  return ['node', relative(ROOT, fileURLToPath(scriptUrl)), ...process.argv.slice(2)].join(' ');
}

/**
 * The script's arguments, parsed against `options` (all strings or
 * booleans); with --help, prints the script's header comment and exits.
 */
export function benchArgs(scriptUrl, options) {
  const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n').slice(1);
    const end = lines.findIndex((line) => !line.startsWith('//'));
    console.log(
      lines
        .slice(0, end === -1 ? undefined : end)
        .join('\n')
        .replace(/^\/\/ ?/gm, ''),
    );
    process.exit(0);
  }

  return values;
}

/**
 * A number from `--flag`, else the environment variable `envName`, else
 * `fallback`; at least 0, or above 0 with `positive`.
 */
export function numberOption(argv, flag, fallback, { envName, positive = false } = {}) {
  const value = Number(
    argv[flag] ?? (envName === undefined ? undefined : process.env[envName]) ?? fallback,
  );
  if (!Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new Error(`--${flag} must be a number ${positive ? 'above' : 'of at least'} 0`);
  }

  return value;
}

/** Extra environment for the server, written "KEY=value,KEY2=value". */
export function serverEnvOption(text) {
  return Object.fromEntries(
    (text ?? '')
      .split(/,(?=[A-Z_]+=)/)
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

/**
 * The benchmark's stores: the PostgreSQL server (BENCH_POSTGRES_URL, any
 * database on it), the database it owns and recreates (BENCH_DATABASE,
 * else `database`), and a Redis database of its own that it flushes
 * (BENCH_REDIS_URL, else database `redisDb`; the tests use 0).
 */
export function storeOptions({ database, redisDb }) {
  const env = process.env;
  const stores = {
    postgresUrl: env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    database: env.BENCH_DATABASE ?? database,
    redisUrl: env.BENCH_REDIS_URL ?? `redis://127.0.0.1:6379/${redisDb}`,
  };
  if (!/^[a-z_][a-z0-9_]*$/.test(stores.database)) {
    throw new Error('BENCH_DATABASE must be a plain identifier');
  }

  return stores;
}
