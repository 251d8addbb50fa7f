import type { LoggerService } from '@nestjs/common';
import type { Level, Logger } from 'pino';

import { currentRequestId } from '#src/common/request-context.js';

/** Nest's own start-up chatter: one line per module, route and socket event. */
const WIRING_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestFactory',
  'NestApplication',
]);

/**
 * Nest's logger interface over the one pino logger. Calls read as
 * `logger.log({fields}, 'message')` or `logger.log('message')`; Nest adds
 * the context (the class name) last. Lines written during a request carry
 * its id. Nest's wiring lines go at debug, so that at info the start-up
 * log is the few lines an operator needs.
 */
export class AppLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params.at(-1);
    this.write(
      typeof context === 'string' && WIRING_CONTEXTS.has(context) ? 'debug' : 'info',
      message,
      params,
    );
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) {
      return;
    }
    const rest = [...params];
    const context =
      typeof rest.at(-1) === 'string' && rest.length > 0 ? (rest.pop() as string) : undefined;
    const requestId = currentRequestId();
    const base = {
      ...(context === undefined ? {} : { context }),
      ...(requestId === undefined ? {} : { requestId }),
    };
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      this.pino[level]({ ...base, ...message }, typeof rest[0] === 'string' ? rest[0] : undefined);
    } else if (message instanceof Error) {
      this.pino[level]({ ...base, err: message }, message.message);
    } else {
      // Nest's own errors come as (message, stack, context).
      const stack = typeof rest[0] === 'string' && rest[0].includes('\n') ? rest[0] : undefined;
      this.pino[level]({ ...base, ...(stack === undefined ? {} : { stack }) }, String(message));
    }
  }
}
