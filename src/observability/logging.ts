import type { NextFunction, Request, Response } from 'express';
import pino, { type Level, type Logger } from 'pino';

import type { AppConfig } from '#src/config/app-config.js';

/** Paths and fields that never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'password',
  'new_password',
  'access_token',
  'refresh_token',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.secret',
];

/** The one pino logger of the process: JSON lines, secrets redacted. */
export function createRootLogger(config: AppConfig): Logger {
  return pino({
    level: config.logLevel,
    base: { node: config.nodeId },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  });
}

/** The health probe and metrics scrape would drown everything else. */
const QUIET_PATHS = new Set(['/health', '/metrics']);

/**
 * One line per request, with its id, when it finishes: info for success,
 * warn for 4xx, error for 5xx. Nothing is built for a line the level drops,
 * so at `warn` a successful request costs no logging work.
 */
export function requestLogMiddleware(logger: Logger) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const started = performance.now();
    // `close` comes for every response, also when the client hangs up first (SSE streams).
    response.once('close', () => {
      const status = response.statusCode;
      const level: Level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level) || (status < 400 && QUIET_PATHS.has(request.path))) {
        return;
      }
      logger[level](
        {
          req: {
            id: (request as Request & { id?: string }).id,
            method: request.method,
            url: request.originalUrl,
            remoteAddress: request.ip,
          },
          res: { statusCode: status },
          responseTime: Math.round(performance.now() - started),
        },
        'request completed',
      );
    });
    next();
  };
}
