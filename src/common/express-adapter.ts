import { createServer, IncomingMessage, ServerResponse } from 'node:http';

import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';

/**
 * Nest's Express adapter with an HTTP server that creates each request and
 * response with Express's prototypes already in place. Express otherwise
 * swaps their prototypes on arrival (`Object.setPrototypeOf`), after which
 * V8 no longer shares their hidden classes: every property set on them
 * afterwards, by Node, Express, Nest and the application, takes a slow path
 * and leaves garbage (about a third of the server's CPU per REST send in the
 * messaging benchmark). With the prototypes in place from the start,
 * Express's swap changes nothing.
 */
export class RelayExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    if (
      options.httpsOptions !== undefined ||
      options.forceCloseConnections === true ||
      options.return503OnClosing === true ||
      !callable(IncomingMessage) ||
      !callable(ServerResponse)
    ) {
      super.initHttpServer(options);

      return;
    }
    const application = this.getInstance<Express>();
    this.httpServer = createServer(
      {
        IncomingMessage: withPrototype(IncomingMessage, application.request),
        ServerResponse: withPrototype(ServerResponse, application.response),
      },
      application,
    );
  }
}

/**
 * A constructor that builds what `type` builds, with `prototype` as the
 * prototype (which must lead to `type.prototype`, as Express's do). Node's
 * request and response constructors are plain functions, so they run on an
 * object V8 allocates for this constructor itself, which keeps allocation
 * on its fast path (`Reflect.construct` with another target does not).
 */
function withPrototype<T extends typeof IncomingMessage | typeof ServerResponse>(
  type: T,
  prototype: object,
): T {
  function Prototyped(this: object, first: unknown, second: unknown): void {
    Reflect.apply(type, this, [first, second]);
  }
  Prototyped.prototype = prototype;

  return Prototyped as unknown as T;
}

/** Whether `type` may be called on an object of ours: a plain function, not a class. */
function callable(type: typeof IncomingMessage | typeof ServerResponse): boolean {
  // A class's `prototype` is read-only; a plain function's is not.
  return Object.getOwnPropertyDescriptor(type, 'prototype')?.writable === true;
}
