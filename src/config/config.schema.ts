import { z } from 'zod';

import { normalizeDomain } from '#src/common/jid.js';
import { RetrySchedule } from '#src/events/retry-schedule.js';

/** Feature modules that configuration can switch on or off. */
export const FEATURE_MODULES = [
  'realtime',
  'sse',
  'metrics',
  'docs',
  'webhooks',
  'rooms',
  'xmpp',
] as const;
export type FeatureModule = (typeof FEATURE_MODULES)[number];

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')))
  .transform((items) => items.map((item) => item.trim()).filter((item) => item !== ''));

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const boolean = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((value) => value === true || value === 'true' || value === '1' || value === 'yes');

/**
 * Every setting, by the name it has in the environment. A config file uses
 * the same names; the environment wins over the file. Units are in the names
 * or noted here and in the README.
 */
export const configSchema = z
  .object({
    HTTP_PORT: integer(0, 65535).default(5280),
    HTTP_HOST: optionalText,
    PUBLIC_URL: optionalText,
    XMPP_DOMAINS: list
      .default(['localhost'])
      .transform((domains, context) => {
        const normalized = new Set<string>();
        for (const domain of domains) {
          try {
            normalized.add(normalizeDomain(domain));
          } catch (error: unknown) {
            context.addIssue({ code: 'custom', message: `${domain}: ${(error as Error).message}` });
          }
        }

        return [...normalized];
      })
      .refine((domains) => domains.length > 0, 'at least one domain is needed'),
    DATABASE_URL: optionalText.refine(
      (url) => url === undefined || /^postgres(ql)?:\/\//.test(url),
      'must be a postgres:// or postgresql:// URL',
    ),
    DATABASE_POOL_SIZE: integer(1, 200).default(20),
    DATA_DIR: z.string().default('./data'),
    REDIS_URL: optionalText.refine(
      (url) => url === undefined || /^rediss?:\/\//.test(url),
      'must be a redis:// or rediss:// URL',
    ),
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[\w:.-]{1,64}$/)
      .default('relay:'),
    NODE_ID: optionalText,
    ADMIN_USERNAME: z.string().min(1).default('admin'),
    ADMIN_PASSWORD: optionalText,
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    HTTP_BODY_LIMIT_BYTES: integer(1024, 64 * 1024 * 1024).default(1024 * 1024),
    MESSAGE_MAX_BYTES: integer(1, 16 * 1024 * 1024).default(64 * 1024),
    ROOMS_MAX_PER_USER: integer(1, 100_000).default(500),
    ROOM_MAX_MEMBERS: integer(1, 100_000).default(1000),
    MODULES: list
      .default([...FEATURE_MODULES])
      .pipe(z.array(z.enum(FEATURE_MODULES)))
      .transform((modules) => new Set<FeatureModule>(modules)),
    ACCESS_TOKEN_TTL_SECONDS: integer(30, 30 * 86400).default(3600),
    REFRESH_TOKEN_TTL_SECONDS: integer(60, 365 * 86400).default(30 * 86400),
    AUTH_CACHE_TTL_SECONDS: integer(0, 3600).default(60),
    LOGIN_MAX_FAILURES: integer(1, 1000).default(5),
    LOGIN_MAX_FAILURES_PER_ADDRESS: integer(1, 100000).default(50),
    LOGIN_LOCKOUT_SECONDS: integer(1, 86400).default(300),
    SYSTEM_SENDER: optionalText,
    CONTACTS_MAX_PER_USER: integer(1, 100_000).default(1000),
    BLOCKS_MAX_PER_USER: integer(1, 100_000).default(1000),
    SHUTDOWN_TIMEOUT_MS: integer(0, 600000).default(10000),
    SESSION_TTL_SECONDS: integer(3, 3600).default(15),
    TRUST_PROXY: boolean.default(false),
    MIGRATIONS_RUN: boolean.default(true),
    WEBHOOK_WORKERS: z.enum(['on', 'off', 'only']).default('on'),
    WEBHOOK_CONCURRENCY: integer(1, 1000).default(32),
    WEBHOOK_TIMEOUT_MS: integer(100, 120_000).default(15_000),
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .default('0,5s,5m,30m,2h,5h,10h,10h')
      .transform((text, context) => {
        try {
          return RetrySchedule.parse(text);
        } catch (error: unknown) {
          context.addIssue({ code: 'custom', message: (error as Error).message });

          return z.NEVER;
        }
      }),
    WEBHOOK_ALLOW_HOSTS: list.default([]),
    WEBHOOK_REQUIRE_HTTPS: boolean.default(false),
    WEBHOOK_DISABLE_AFTER_SECONDS: integer(1, 365 * 86400).default(5 * 86400),
    WEBHOOK_RESPONSE_BODY_BYTES: integer(0, 65536).default(2048),
    WEBHOOK_SECRET_OVERLAP_SECONDS: integer(0, 30 * 86400).default(86400),
    WEBHOOK_SWEEP_SECONDS: integer(1, 3600).default(30),
    WEBHOOK_FORWARD_URL: optionalText,
    WEBHOOK_FORWARD_SECRET: optionalText,
    XMPP_C2S_PORT: integer(0, 65535).default(5222),
    XMPP_C2S_TLS_PORT: integer(0, 65535).default(5223),
    XMPP_TLS_CERT: optionalText,
    XMPP_TLS_KEY: optionalText,
    XMPP_REQUIRE_TLS: boolean.default(true),
    XMPP_MAX_STANZA_SIZE: integer(1024, 16 * 1024 * 1024).default(256 * 1024),
    XMPP_RATE_BYTES_PER_SECOND: integer(0, 1024 * 1024 * 1024).default(256 * 1024),
    XMPP_RATE_BURST_BYTES: integer(1024, 1024 * 1024 * 1024).default(1024 * 1024),
    XMPP_MAX_OUTBOUND_BYTES: integer(16 * 1024, 1024 * 1024 * 1024).default(2 * 1024 * 1024),
    XMPP_PING_INTERVAL_SECONDS: integer(5, 86400).default(300),
    XMPP_SM_RESUME_TIMEOUT_SECONDS: integer(0, 86400).default(300),
    XMPP_SM_MAX_UNACKED: integer(10, 100_000).default(1000),
  })
  .strict()
  .superRefine((config, context) => {
    if ((config.XMPP_TLS_CERT === undefined) !== (config.XMPP_TLS_KEY === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['XMPP_TLS_CERT'],
        message: 'XMPP_TLS_CERT and XMPP_TLS_KEY go together',
      });
    }
  });

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
