import net from 'node:net';

import pg from 'pg';
import { inject } from 'vitest';

/** Where the tests find PostgreSQL and Redis; the defaults are this machine's services. */
export const TEST_POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_DATABASE_NAME = process.env.TEST_DATABASE_NAME ?? 'relay_test';
export const TEST_DATABASE_URL = TEST_POSTGRES_ADMIN_URL.replace(
  /\/[^/]*$/,
  `/${TEST_DATABASE_NAME}`,
);
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function isCi(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}

export function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);

  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Whether the suites that need PostgreSQL and Redis run, as the global
 * setup found them; in CI a missing service has failed the run already.
 */
export function servicesUp(): boolean {
  return inject('servicesUp');
}

/** Runs statements on the PostgreSQL server as its admin, one connection for all of them. */
export async function adminQuery(...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    for (const statement of statements) {
      await client.query(statement);
    }
  } finally {
    await client.end();
  }
}

/** Drops the database if it is there and creates it empty. */
export function recreateDatabase(name: string): Promise<void> {
  return adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, `CREATE DATABASE ${name}`);
}

/**
 * A database of a test file's own, for suites whose servers must not see
 * each other's rows (every server's outbox relay serves the whole database).
 */
export async function createTestDatabase(
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `relay_test_${label}_${process.pid}`;
  await recreateDatabase(name);

  return {
    url: TEST_POSTGRES_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
