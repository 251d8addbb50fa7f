import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';

import type { FeatureModule, ParsedConfig } from '#src/config/config.schema.js';
import type { RetrySchedule } from '#src/events/retry-schedule.js';

/** The typed, validated configuration every part of the server reads. No `process.env` elsewhere. */
export class AppConfig {
  readonly http: {
    readonly port: number;
    readonly host?: string;
    readonly publicUrl?: string;
    readonly bodyLimitBytes: number;
    readonly trustProxy: boolean;
  };
  readonly domains: readonly string[];
  readonly database:
    | {
        readonly mode: 'postgres';
        readonly url: string;
        readonly poolSize: number;
        readonly runMigrations: boolean;
      }
    | {
        readonly mode: 'embedded';
        readonly dataDir: string;
        readonly poolSize: number;
        readonly runMigrations: boolean;
      };
  readonly redis:
    | { readonly mode: 'redis'; readonly url: string; readonly keyPrefix: string }
    | { readonly mode: 'memory' };
  readonly dataDir: string;
  readonly nodeId: string;
  readonly admin: { readonly username: string; readonly password?: string };
  readonly logLevel: ParsedConfig['LOG_LEVEL'];
  readonly messageMaxBytes: number;
  readonly rooms: { readonly maxPerUser: number; readonly maxMembers: number };
  readonly modules: ReadonlySet<FeatureModule>;
  readonly tokens: { readonly accessTtlSeconds: number; readonly refreshTtlSeconds: number };
  readonly auth: {
    readonly cacheTtlSeconds: number;
    readonly maxFailures: number;
    readonly maxFailuresPerAddress: number;
    readonly lockoutSeconds: number;
  };
  readonly systemSender?: string;
  /** Roster items a user may add; items that only hold a pending request do not count. */
  readonly contacts: { readonly maxPerUser: number };
  readonly blocking: { readonly maxPerUser: number };
  readonly shutdownTimeoutMs: number;
  readonly sessionTtlSeconds: number;
  readonly webhooks: {
    readonly workers: 'on' | 'off' | 'only';
    readonly concurrency: number;
    readonly timeoutMs: number;
    readonly retrySchedule: RetrySchedule;
    readonly allowHosts: readonly string[];
    readonly requireHttps: boolean;
    readonly disableAfterMs: number;
    readonly responseBodyBytes: number;
    readonly secretOverlapMs: number;
    readonly sweepMs: number;
    readonly forward?: { readonly url: string; readonly secret?: string };
  };

  readonly xmpp: {
    readonly c2sPort: number;
    readonly c2sTlsPort: number;
    readonly tls?: { readonly certFile: string; readonly keyFile: string };
    readonly requireTls: boolean;
    readonly maxStanzaBytes: number;
    /** 0: no shaping. */
    readonly rateBytesPerSecond: number;
    readonly rateBurstBytes: number;
    readonly maxOutboundBytes: number;
    readonly pingIntervalMs: number;
    /** XEP-0198: how long a dropped session waits to be resumed (0: no resumption). */
    readonly smResumeTimeoutSeconds: number;
    /** XEP-0198: unacknowledged stanzas a session may hold before it is ended. */
    readonly smMaxUnacked: number;
  };

  constructor(parsed: ParsedConfig) {
    this.http = {
      port: parsed.HTTP_PORT,
      host: parsed.HTTP_HOST,
      publicUrl: parsed.PUBLIC_URL?.replace(/\/+$/, ''),
      bodyLimitBytes: parsed.HTTP_BODY_LIMIT_BYTES,
      trustProxy: parsed.TRUST_PROXY,
    };
    this.domains = parsed.XMPP_DOMAINS;
    this.dataDir = resolve(parsed.DATA_DIR);
    this.database =
      parsed.DATABASE_URL === undefined
        ? {
            mode: 'embedded',
            dataDir: resolve(this.dataDir, 'pgdata'),
            // PGlite is one PostgreSQL session: connections sharing it interleave the
            // extended query protocol and corrupt each other, so there is exactly one.
            poolSize: 1,
            runMigrations: parsed.MIGRATIONS_RUN,
          }
        : {
            mode: 'postgres',
            url: parsed.DATABASE_URL,
            poolSize: parsed.DATABASE_POOL_SIZE,
            runMigrations: parsed.MIGRATIONS_RUN,
          };
    this.redis =
      parsed.REDIS_URL === undefined
        ? { mode: 'memory' }
        : { mode: 'redis', url: parsed.REDIS_URL, keyPrefix: parsed.REDIS_KEY_PREFIX };
    this.nodeId = parsed.NODE_ID ?? randomUUID().slice(0, 8);
    this.admin = { username: parsed.ADMIN_USERNAME, password: parsed.ADMIN_PASSWORD };
    this.logLevel = parsed.LOG_LEVEL;
    this.messageMaxBytes = parsed.MESSAGE_MAX_BYTES;
    this.rooms = { maxPerUser: parsed.ROOMS_MAX_PER_USER, maxMembers: parsed.ROOM_MAX_MEMBERS };
    this.modules = parsed.MODULES;
    this.tokens = {
      accessTtlSeconds: parsed.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: parsed.REFRESH_TOKEN_TTL_SECONDS,
    };
    this.auth = {
      cacheTtlSeconds: parsed.AUTH_CACHE_TTL_SECONDS,
      maxFailures: parsed.LOGIN_MAX_FAILURES,
      maxFailuresPerAddress: parsed.LOGIN_MAX_FAILURES_PER_ADDRESS,
      lockoutSeconds: parsed.LOGIN_LOCKOUT_SECONDS,
    };
    this.systemSender = parsed.SYSTEM_SENDER;
    this.contacts = { maxPerUser: parsed.CONTACTS_MAX_PER_USER };
    this.blocking = { maxPerUser: parsed.BLOCKS_MAX_PER_USER };
    this.shutdownTimeoutMs = parsed.SHUTDOWN_TIMEOUT_MS;
    this.sessionTtlSeconds = parsed.SESSION_TTL_SECONDS;
    this.xmpp = {
      c2sPort: parsed.XMPP_C2S_PORT,
      c2sTlsPort: parsed.XMPP_C2S_TLS_PORT,
      ...(parsed.XMPP_TLS_CERT === undefined || parsed.XMPP_TLS_KEY === undefined
        ? {}
        : {
            tls: { certFile: resolve(parsed.XMPP_TLS_CERT), keyFile: resolve(parsed.XMPP_TLS_KEY) },
          }),
      requireTls: parsed.XMPP_REQUIRE_TLS,
      maxStanzaBytes: parsed.XMPP_MAX_STANZA_SIZE,
      rateBytesPerSecond: parsed.XMPP_RATE_BYTES_PER_SECOND,
      rateBurstBytes: parsed.XMPP_RATE_BURST_BYTES,
      maxOutboundBytes: parsed.XMPP_MAX_OUTBOUND_BYTES,
      pingIntervalMs: parsed.XMPP_PING_INTERVAL_SECONDS * 1000,
      smResumeTimeoutSeconds: parsed.XMPP_SM_RESUME_TIMEOUT_SECONDS,
      smMaxUnacked: parsed.XMPP_SM_MAX_UNACKED,
    };
    this.webhooks = {
      workers: parsed.WEBHOOK_WORKERS,
      concurrency: parsed.WEBHOOK_CONCURRENCY,
      timeoutMs: parsed.WEBHOOK_TIMEOUT_MS,
      retrySchedule: parsed.WEBHOOK_RETRY_SCHEDULE,
      allowHosts: parsed.WEBHOOK_ALLOW_HOSTS,
      requireHttps: parsed.WEBHOOK_REQUIRE_HTTPS,
      disableAfterMs: parsed.WEBHOOK_DISABLE_AFTER_SECONDS * 1000,
      responseBodyBytes: parsed.WEBHOOK_RESPONSE_BODY_BYTES,
      secretOverlapMs: parsed.WEBHOOK_SECRET_OVERLAP_SECONDS * 1000,
      sweepMs: parsed.WEBHOOK_SWEEP_SECONDS * 1000,
      ...(parsed.WEBHOOK_FORWARD_URL === undefined
        ? {}
        : {
            forward: {
              url: parsed.WEBHOOK_FORWARD_URL,
              ...(parsed.WEBHOOK_FORWARD_SECRET === undefined
                ? {}
                : { secret: parsed.WEBHOOK_FORWARD_SECRET }),
            },
          }),
    };
  }

  isEnabled(module: FeatureModule): boolean {
    return this.modules.has(module);
  }

  /** The base URL to print and to put in links. */
  get baseUrl(): string {
    if (this.http.publicUrl !== undefined) {
      return this.http.publicUrl;
    }
    const host =
      this.http.host === undefined || this.http.host === '0.0.0.0' || this.http.host === '::'
        ? 'localhost'
        : this.http.host;

    return `http://${host.includes(':') ? `[${host}]` : host}:${this.http.port}`;
  }
}
