import type { IncomingMessage } from 'node:http';

import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The middleware every request goes through first, whichever route answers
 * it: the request id, the log line, the metrics, the shutdown drain. A
 * route answered in front of Express (the send fast route) runs them itself
 * and, when it hands a request on to Express after all, marks it with
 * `ranFor` so that Express passes over them: each runs once per request.
 */
export class EveryRequest {
  private readonly ran = new WeakSet<IncomingMessage>();

  constructor(private readonly handlers: readonly RequestHandler[]) {}

  readonly middleware = (request: Request, response: Response, next: NextFunction): void => {
    if (this.ran.has(request)) {
      next();

      return;
    }
    this.run(request, response, next);
  };

  run(request: Request, response: Response, next: NextFunction): void {
    let index = 0;
    const step = (error?: unknown): void => {
      const handler = this.handlers[index++];
      if (error !== undefined || handler === undefined) {
        next(error);

        return;
      }
      void handler(request, response, step);
    };
    step();
  }

  ranFor(request: IncomingMessage): void {
    this.ran.add(request);
  }
}
