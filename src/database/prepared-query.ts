import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { QueryFailedError, type EntityManager } from 'typeorm';

/**
 * Runs a named prepared statement: PostgreSQL parses it once per connection
 * and, after a few runs, keeps its plan. For the statements of every message
 * and every login, where parsing and planning each time cost more than
 * running them. Errors are TypeORM's, as from `manager.query`. In a
 * transaction the manager's connection is used; outside one a connection is
 * taken from the driver's pool directly, since a TypeORM query runner per
 * statement is garbage on the hot paths. `name` must always go with the same
 * `text`.
 */
export async function queryPrepared<T>(
  manager: EntityManager,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const runner = manager.queryRunner;
  const client =
    runner === undefined
      ? await (manager.connection.driver as unknown as { readonly master: Pool }).master.connect()
      : ((await runner.connect()) as PoolClient);
  try {
    return (await client.query<T & QueryResultRow>({ name, text, values })).rows;
  } catch (error: unknown) {
    throw new QueryFailedError(text, values, error as Error);
  } finally {
    if (runner === undefined) {
      client.release();
    }
  }
}
