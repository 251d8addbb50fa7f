import { readFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { AppConfig } from '#src/config/app-config.js';
import { configSchema } from '#src/config/config.schema.js';

export class ConfigError extends Error {}

const KNOWN_KEYS = new Set(Object.keys(configSchema.shape));

/**
 * Reads the configuration: an optional YAML file named by `CONFIG_FILE`
 * (keys are the environment names, in any case), then the environment on
 * top. Throws ConfigError naming every bad key, so the server refuses to
 * start rather than run half-configured.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Record<string, unknown> = {},
): AppConfig {
  const fromFile =
    env.CONFIG_FILE === undefined || env.CONFIG_FILE === '' ? {} : readConfigFile(env.CONFIG_FILE);
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => KNOWN_KEYS.has(key) && value !== undefined),
  );
  const raw: Record<string, unknown> = { ...fromFile, ...fromEnv, ...overrides };
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const source =
      env.CONFIG_FILE === undefined || env.CONFIG_FILE === ''
        ? 'the environment'
        : `the environment and ${env.CONFIG_FILE}`;
    throw new ConfigError(
      `invalid configuration in ${source}:\n${describeIssues(result.error, raw)}`,
    );
  }

  return new AppConfig(result.data);
}

function readConfigFile(path: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (error: unknown) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (document === null || document === undefined) {
    return {};
  }
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new ConfigError(`config file ${path} must be a mapping of setting names to values`);
  }

  return Object.fromEntries(
    Object.entries(document).map(([key, value]) => [key.toUpperCase(), value]),
  );
}

/** Settings whose values may hold secrets are never echoed back. */
const SECRET = /PASSWORD|_URL$/;

function describeIssues(error: z.ZodError, raw: Record<string, unknown>): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.join('.') || '(file)';
      const input = raw[String(issue.path[0])];
      const shown =
        input === undefined || typeof input === 'object' || SECRET.test(key)
          ? ''
          : ` (got ${JSON.stringify(input)})`;

      return `  ${key}: ${issue.message}${shown}`;
    })
    .join('\n');
}
