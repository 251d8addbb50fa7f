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
  const result = configSchema.safeParse({ ...fromFile, ...fromEnv, ...overrides });
  if (!result.success) {
    throw new ConfigError(`invalid configuration:\n${describeIssues(result.error)}`);
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

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `  ${issue.path.join('.') || '(file)'}: ${issue.message}`)
    .join('\n');
}
