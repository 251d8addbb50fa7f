import { DataSource } from 'typeorm';

import { ENTITIES } from '#src/database/entities.js';
import { MIGRATIONS } from '#migrations/index.js';

export interface DataSourceSettings {
  readonly url: string;
  readonly poolSize: number;
  /** Name shown in PostgreSQL's pg_stat_activity. */
  readonly applicationName?: string;
  /** How long an idle pooled connection stays open; 0 keeps it (pg's default is 10 s). */
  readonly idleTimeoutMillis?: number;
}

export function createDataSource(settings: DataSourceSettings): DataSource {
  return new DataSource({
    type: 'postgres',
    url: settings.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    uuidExtension: 'pgcrypto',
    synchronize: false,
    logging: false,
    extra: {
      max: settings.poolSize,
      application_name: settings.applicationName ?? 'relay',
      // Fail fast when the database is unreachable instead of hanging a request.
      connectionTimeoutMillis: 10_000,
      ...(settings.idleTimeoutMillis === undefined
        ? {}
        : { idleTimeoutMillis: settings.idleTimeoutMillis }),
    },
  });
}
