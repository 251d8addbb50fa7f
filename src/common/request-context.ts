import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

import type { NextFunction, Request, Response } from 'express';

interface RequestContext {
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request its id (the client's `X-Request-Id` when sane, else a
 * new one) before anything else runs, and keeps it reachable from the code
 * the request calls, so events and jobs it causes can carry it.
 */
export function requestContextMiddleware(
  request: Request,
  response: Response,
  next: NextFunction,
): void {
  const given = request.headers['x-request-id'];
  const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  (request as Request & { id: string }).id = requestId;
  response.setHeader('X-Request-Id', requestId);
  storage.run({ requestId }, next);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * `callback` bound to the running request's context, for callbacks that
 * async hooks do not carry it to (stream events of the request, whose
 * context is the connection's).
 */
export function inRequestContext<A extends unknown[]>(
  callback: (...args: A) => void,
): (...args: A) => void {
  const context = storage.getStore();

  return context === undefined ? callback : (...args) => storage.run(context, callback, ...args);
}
