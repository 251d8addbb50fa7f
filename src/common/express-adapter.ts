import { createServer, IncomingMessage, ServerResponse } from 'node:http';

import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';

/**
 * Nest's Express adapter with an HTTP server that creates each request and
 * response with Express's prototypes already in place. Express otherwise
 * swaps their prototypes on arrival (`Object.setPrototypeOf`), after which
 * V8 no longer shares their hidden classes: every property set on them
 * afterwards, by Express, Nest and the application, takes a slow path and
 * leaves garbage, some microseconds per request. With the prototypes in
 * place from the start, Express's swap changes nothing.
 */
export class RelayExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    if (
      options.httpsOptions !== undefined ||
      options.forceCloseConnections === true ||
      options.return503OnClosing === true
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
 * prototype (which must lead to `type.prototype`, as Express's do).
 */
function withPrototype<T extends typeof IncomingMessage | typeof ServerResponse>(
  type: T,
  prototype: object,
): T {
  function Prototyped(this: unknown, ...args: unknown[]): object {
    return Reflect.construct(type, args, Prototyped) as object;
  }
  Prototyped.prototype = prototype;

  return Prototyped as unknown as T;
}
