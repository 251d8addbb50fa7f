import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { Params } from 'nestjs-pino';

import type { AppConfig } from '#src/config/app-config.js';

/** Paths and fields that never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'password',
  'new_password',
  'access_token',
  'refresh_token',
  'token',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.secret',
];

/** One pino logger for the whole process, one line per request carrying its id. */
export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      base: { node: config.nodeId },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      // The id is given by requestContextMiddleware, which runs first.
      genReqId: (request: IncomingMessage) =>
        (request as IncomingMessage & { id?: string }).id ?? randomUUID(),
      customLogLevel: (_request, response, error) => {
        if (error !== undefined || response.statusCode >= 500) {
          return 'error';
        }

        return response.statusCode >= 400 ? 'warn' : 'info';
      },
      // The health probe and metrics scrape would drown everything else.
      autoLogging: { ignore: (request) => request.url === '/health' || request.url === '/metrics' },
      serializers: {
        req: (request: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: request.id,
          method: request.method,
          url: request.url,
          remoteAddress: request.remoteAddress,
        }),
        res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
      },
    },
  };
}
