import type { TestProject } from 'vitest/node';

import {
  isCi,
  reachable,
  recreateDatabase,
  TEST_DATABASE_NAME,
  TEST_POSTGRES_ADMIN_URL,
  TEST_REDIS_URL,
} from './services.js';

/**
 * Checks PostgreSQL and Redis once and gives the run a fresh database, so
 * the migrations run from an empty schema every time. In CI a missing
 * service fails the whole run; elsewhere the suites that need it are
 * skipped with a loud warning and the embedded-mode and unit tests still run.
 */
export default async function setup(project: TestProject): Promise<void> {
  const [postgres, redis] = await Promise.all([
    reachable(TEST_POSTGRES_ADMIN_URL),
    reachable(TEST_REDIS_URL),
  ]);
  if (!postgres || !redis) {
    const missing = [
      postgres ? undefined : `PostgreSQL at ${TEST_POSTGRES_ADMIN_URL}`,
      redis ? undefined : `Redis at ${TEST_REDIS_URL}`,
    ]
      .filter(Boolean)
      .join(' and ');
    if (isCi()) {
      throw new Error(`CI needs ${missing}; the integration suites cannot run without them`);
    }
    process.stderr.write(
      `\n*** WARNING: ${missing} not reachable: the PostgreSQL/Redis suites are SKIPPED (they fail in CI) ***\n\n`,
    );
    project.provide('servicesUp', false);

    return;
  }
  await recreateDatabase(TEST_DATABASE_NAME);
  project.provide('servicesUp', true);
}

declare module 'vitest' {
  export interface ProvidedContext {
    servicesUp: boolean;
  }
}
