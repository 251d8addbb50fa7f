import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';

import { AppConfig } from '#src/config/app-config.js';
import { createDataSource } from '#src/database/data-source.js';
import { EmbeddedPostgres } from '#src/database/embedded-postgres.js';

export const EMBEDDED_POSTGRES = Symbol('EMBEDDED_POSTGRES');

/** Opens the database (embedded or PostgreSQL), runs pending migrations, and closes both in order on shutdown. */
@Injectable()
class DatabaseLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(EMBEDDED_POSTGRES) private readonly embedded: EmbeddedPostgres | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) {
      await this.dataSource.destroy();
    }
    if (this.embedded !== null) {
      await this.embedded.stop();
    }
    this.logger.log('database closed');
  }
}

@Global()
@Module({
  providers: [
    {
      provide: EMBEDDED_POSTGRES,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) =>
        config.database.mode === 'embedded'
          ? EmbeddedPostgres.start(config.database.dataDir, config.database.poolSize)
          : null,
    },
    {
      provide: DataSource,
      inject: [AppConfig, EMBEDDED_POSTGRES],
      useFactory: async (config: AppConfig, embedded: EmbeddedPostgres | null) => {
        const url =
          embedded?.url ?? (config.database.mode === 'postgres' ? config.database.url : '');
        const dataSource = createDataSource({
          url,
          poolSize: config.database.poolSize,
          applicationName: `relay-${config.nodeId}`,
          // The embedded connection is served in process: nothing is saved by closing it.
          ...(embedded === null ? {} : { idleTimeoutMillis: 0 }),
        });
        await dataSource.initialize();
        if (embedded !== null) {
          forgetSharedStatements(dataSource);
        }
        if (config.database.runMigrations) {
          // The embedded database has one connection and one process: nothing to serialize against.
          await (embedded === null
            ? runMigrationsExclusively(dataSource)
            : runMigrations(dataSource));
        }

        return dataSource;
      },
    },
    DatabaseLifecycle,
  ],
  exports: [DataSource],
})
export class DatabaseModule {}

/**
 * The embedded database serves every socket connection from its one session,
 * so the named statements of a connection the pool closed (after an error)
 * are still prepared there, and preparing them again on its replacement
 * would fail with 42P05 for good. A new connection starts by forgetting
 * them; pg runs that before anything the pool's caller sends on it.
 */
function forgetSharedStatements(dataSource: DataSource): void {
  const pool = (dataSource.driver as unknown as { readonly master: Pool }).master;
  pool.on('connect', (client) => {
    client.query('DEALLOCATE ALL').catch((error: unknown) => {
      new Logger('Database').error({ err: error }, 'could not reset prepared statements');
    });
  });
}

/** Nodes starting together must not apply the same migration twice: serialize on an advisory lock. */
async function runMigrationsExclusively(dataSource: DataSource): Promise<void> {
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await runMigrations(dataSource);
  } finally {
    await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await lockRunner.release();
  }
}

async function runMigrations(dataSource: DataSource): Promise<void> {
  const applied = await dataSource.runMigrations();
  if (applied.length > 0) {
    new Logger('Database').log(
      { migrations: applied.map((migration) => migration.name) },
      'migrations applied',
    );
  }
}

const MIGRATION_LOCK_KEY = 7_622_6120;
