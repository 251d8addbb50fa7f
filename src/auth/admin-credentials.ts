import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Logger } from '@nestjs/common';

import type { AdminCredentials } from '#src/auth/guards.js';
import type { AppConfig } from '#src/config/app-config.js';

const PASSWORD_FILE = 'admin-password';

/**
 * The admin credentials: ADMIN_USERNAME and ADMIN_PASSWORD when set;
 * otherwise a password generated once, kept in DATA_DIR and printed only
 * on the start that generated it.
 */
export function resolveAdminCredentials(config: AppConfig): AdminCredentials {
  const username = config.admin.username;
  if (config.admin.password !== undefined) {
    return { username, password: config.admin.password };
  }
  const logger = new Logger('Admin');
  const path = join(config.dataDir, PASSWORD_FILE);
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored !== '') {
      logger.log({ file: path }, `admin API: user "${username}", password in ${path}`);

      return { username, password: stored };
    }
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  const password = randomBytes(18).toString('base64url');
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  if (config.database.mode === 'postgres') {
    logger.warn(
      'ADMIN_PASSWORD is not set: nodes of a cluster would each generate their own; set it',
    );
  }
  // Printed once, on purpose: this is how the operator learns it.
  logger.log(`admin API: user "${username}", generated password ${password} (kept in ${path})`);

  return { username, password };
}
