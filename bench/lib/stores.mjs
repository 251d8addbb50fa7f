// The benchmark's own PostgreSQL database and Redis database, on the machine's
// servers: `postgresUrl` names the server (any database on it), `database` the
// one the benchmark owns and recreates, `redisUrl` a Redis database it flushes.
import { Redis } from 'ioredis';
import pg from 'pg';

/** The URL of the benchmark's database on the server of `postgresUrl`. */
export function databaseUrl({ postgresUrl, database }) {
  const url = new URL(postgresUrl);
  url.pathname = `/${database}`;

  return url.toString();
}

/** Drops and creates the benchmark's database and empties its Redis database. */
export async function resetStores({ postgresUrl, database, redisUrl }) {
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.flushdb();
  await redis.quit();
}
