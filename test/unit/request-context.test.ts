import { EventEmitter } from 'node:events';

import type { NextFunction, Request, Response } from 'express';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  currentRequestId,
  requestContextActive,
  requestContextMiddleware,
} from '#src/common/request-context.js';

/** A request with the given id header and a response that can close. */
function exchange(id: string): { request: Request; response: Response & EventEmitter } {
  const request = { headers: { 'x-request-id': id } } as unknown as Request;
  const response = Object.assign(new EventEmitter(), { setHeader: () => undefined });

  return { request, response: response as unknown as Response & EventEmitter };
}

/** Runs `work` as the handler of a request with id `id`; resolves with what it returned. */
function serve<T>(id: string, work: () => Promise<T>): { result: Promise<T>; close(): void } {
  const { request, response } = exchange(id);
  let result!: Promise<T>;
  requestContextMiddleware(request, response, (() => {
    result = work();
  }) as NextFunction);

  return { result, close: () => response.emit('close') };
}

const afterAwaits = async () => {
  await Promise.resolve();
  await new Promise<void>((resolve) => queueMicrotask(resolve));

  return currentRequestId();
};

describe('request context', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    // The switch-off timer is the module's; let it run so the next test starts switched off.
    vi.runOnlyPendingTimers();
    vi.useRealTimers();
  });

  it('carries the request id through awaits, and keeps requests apart', async () => {
    const one = serve('req-one', afterAwaits);
    const two = serve('req-two', afterAwaits);

    expect(await one.result).toBe('req-one');
    expect(await two.result).toBe('req-two');
    one.close();
    two.close();
  });

  it('switches off a second after the last request closed, and the next request has its id again', async () => {
    const first = serve('req-a', afterAwaits);
    expect(await first.result).toBe('req-a');
    first.close();
    expect(requestContextActive()).toBe(true);

    vi.advanceTimersByTime(999);
    expect(requestContextActive()).toBe(true);
    vi.advanceTimersByTime(1);
    expect(requestContextActive()).toBe(false);
    expect(currentRequestId()).toBeUndefined();

    const next = serve('req-b', afterAwaits);
    expect(await next.result).toBe('req-b');
    next.close();
  });

  it('stays on while a request is in flight, however long it takes', async () => {
    const long = serve('req-long', async () => {
      await vi.advanceTimersByTimeAsync(5000);

      return afterAwaits();
    });
    const short = serve('req-short', afterAwaits);
    expect(await short.result).toBe('req-short');
    short.close();

    expect(await long.result).toBe('req-long');
    expect(requestContextActive()).toBe(true);
    long.close();
    vi.advanceTimersByTime(1000);
    expect(requestContextActive()).toBe(false);
  });
});
