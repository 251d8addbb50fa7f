import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

import type { NextFunction, Request, Response } from 'express';

interface RequestContext {
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * How long the storage stays on after the last HTTP request ended. On
 * Node 20 an enabled AsyncLocalStorage hooks the creation of every promise
 * in the process, a request's or not: about a third of the garbage an XMPP
 * message makes, and with it the collector pauses that set the latency
 * tail. Only HTTP requests have a context to carry, so the storage is
 * switched off once none has been in flight for this long, and back on by
 * the next request.
 */
const SWITCH_OFF_AFTER_MS = 1000;

/** HTTP requests begun and not yet closed. */
let inFlight = 0;
let lastEndedAt = 0;
let switchOffTimer: NodeJS.Timeout | undefined;

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
  inFlight += 1;
  response.once('close', requestEnded);
  storage.run({ requestId }, next);
}

function requestEnded(): void {
  inFlight -= 1;
  lastEndedAt = Date.now();
  if (inFlight === 0 && switchOffTimer === undefined) {
    switchOffTimer = setTimeout(switchOffWhenIdle, SWITCH_OFF_AFTER_MS).unref();
  }
}

/** One timer at a time, pushed back while requests keep coming rather than set per request. */
function switchOffWhenIdle(): void {
  switchOffTimer = undefined;
  if (inFlight > 0) {
    // The request in flight schedules the next check when it ends.
    return;
  }
  const idleFor = Date.now() - lastEndedAt;
  if (idleFor >= SWITCH_OFF_AFTER_MS) {
    storage.disable();
  } else {
    switchOffTimer = setTimeout(switchOffWhenIdle, SWITCH_OFF_AFTER_MS - idleFor).unref();
  }
}

/** Whether the storage is tracking contexts now (it is while HTTP requests are served). */
export function requestContextActive(): boolean {
  return inFlight > 0 || switchOffTimer !== undefined;
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
