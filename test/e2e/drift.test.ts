import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { generateOpenApi } from '#src/cli/openapi.js';
import { createDataSource } from '#src/database/data-source.js';
import { EmbeddedPostgres } from '#src/database/embedded-postgres.js';
import { servicesUp, TEST_DATABASE_URL } from '#test/helpers/services.js';

/** The schema changes TypeORM would make to turn the migrated database into what the entities describe. */
async function pendingSchemaChanges(url: string): Promise<string[]> {
  const dataSource = createDataSource({ url, poolSize: 2 });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
    const log = await dataSource.driver.createSchemaBuilder().log();

    return log.upQueries.map((query) => query.query);
  } finally {
    await dataSource.destroy();
  }
}

describe('what is committed matches the code', () => {
  it('openapi/openapi.json is the document the code generates (run `npm run openapi` after changing routes or DTOs)', async () => {
    const committed = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');

    expect(await generateOpenApi()).toBe(committed);
  });

  it('the migrations build exactly the schema the entities describe, on embedded PostgreSQL', async () => {
    const embedded = await EmbeddedPostgres.start('memory://', 2);
    try {
      expect(await pendingSchemaChanges(embedded.url)).toEqual([]);
    } finally {
      await embedded.stop();
    }
  });

  it.skipIf(!servicesUp())(
    'the migrations build exactly the schema the entities describe, on PostgreSQL',
    async () => {
      expect(await pendingSchemaChanges(TEST_DATABASE_URL)).toEqual([]);
    },
  );
});
