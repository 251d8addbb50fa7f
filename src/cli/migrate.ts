import 'reflect-metadata';

import { loadConfig } from '#src/config/load-config.js';
import { createDataSource } from '#src/database/data-source.js';

/** Applies pending migrations to DATABASE_URL (the server also does this at start-up). */
async function main(): Promise<void> {
  const config = loadConfig();
  if (config.database.mode !== 'postgres') {
    process.stderr.write(
      'DATABASE_URL is not set: the embedded database is migrated by the server when it starts\n',
    );
    process.exitCode = 2;

    return;
  }
  const dataSource = createDataSource({
    url: config.database.url,
    poolSize: 2,
    applicationName: 'relay-migrate',
  });
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    process.stdout.write(
      applied.length === 0
        ? 'schema is up to date\n'
        : `applied ${applied.map((migration) => migration.name).join(', ')}\n`,
    );
  } finally {
    await dataSource.destroy();
  }
}

await main();
