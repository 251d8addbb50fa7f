import { randomBytes } from 'node:crypto';

import { startServer, type RunningServer } from '#src/bootstrap.js';
import { loadConfig } from '#src/config/load-config.js';

import { TEST_DATABASE_URL, TEST_REDIS_URL } from './services.js';

export const ADMIN_PASSWORD = 'admin-test-password';

export interface TestServer extends RunningServer {
  /** A domain of this server's own, so parallel test files never share users. */
  readonly domain: string;
}

export function uniqueDomain(): string {
  return `t${randomBytes(5).toString('hex')}.test`;
}

/** Starts a real server on a free port against the test PostgreSQL and Redis (or embedded, with `embedded`). */
export async function startTestServer(
  settings: Record<string, string> = {},
  options: { embedded?: boolean; domain?: string } = {},
): Promise<TestServer> {
  const domain = options.domain ?? uniqueDomain();
  const config = loadConfig(
    {},
    {
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      XMPP_DOMAINS: domain,
      ADMIN_PASSWORD,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      SHUTDOWN_TIMEOUT_MS: '2000',
      // Free ports, so test servers never collide on 5222/5223.
      XMPP_C2S_PORT: '0',
      XMPP_C2S_TLS_PORT: '0',
      ...(options.embedded === true
        ? {}
        : {
            DATABASE_URL: TEST_DATABASE_URL,
            REDIS_URL: TEST_REDIS_URL,
            REDIS_KEY_PREFIX: `test:${domain}:`,
          }),
      ...settings,
    },
  );
  const server = await startServer(config);

  return Object.assign(server, { domain });
}
