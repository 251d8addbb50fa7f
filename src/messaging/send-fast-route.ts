import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { UserAuthGuard } from '#src/auth/guards.js';
import { ProblemFilter } from '#src/common/errors/problem.filter.js';
import { JsonBodyMiddleware, markBodyRead } from '#src/common/json-body.middleware.js';
import { clientSendCommand } from '#src/messaging/client-send.js';
import { acceptSendMessage, type SendMessageDto } from '#src/messaging/dto/send-message.dto.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { labelRoute } from '#src/observability/http-metrics.middleware.js';

/** The route as Express names it, for the request-duration metrics. */
const SEND_ROUTE = '/api/messages';

/**
 * `POST /api/messages` for the requests nearly every client sends, without
 * Express's router or Nest's guard, pipe and handler machinery, which cost
 * more than the rest of a send. It runs after the middleware every request
 * gets (request id, log line, metrics, shutdown drain) and takes the same
 * steps as the general path, with the same code: the body middleware's
 * reader, the user guard's direct authentication, the DTO's hand check, the
 * controller's command and the problem filter. A request it is not sure of
 * (query string, other body framing, a body the hand check does not accept,
 * credentials that need passport) goes on to the general path unchanged,
 * its body already read, so every answer outside the common case is still
 * the general path's own.
 */
@Injectable()
export class SendFastRoute {
  private readonly problems = new ProblemFilter();

  constructor(
    private readonly body: JsonBodyMiddleware,
    private readonly auth: UserAuthGuard,
    private readonly messages: MessagesService,
  ) {}

  readonly middleware = (request: Request, response: Response, next: NextFunction): void => {
    if (
      request.method !== 'POST' ||
      request.url !== SEND_ROUTE ||
      request.headers.authorization === undefined ||
      !this.body.readsDirectly(request)
    ) {
      next();

      return;
    }
    this.body.use(request, response, (error?: unknown) => {
      if (error !== undefined) {
        next(error);

        return;
      }
      this.afterBody(request, response, next);
    });
  };

  private afterBody(request: Request, response: Response, next: NextFunction): void {
    const dto = acceptSendMessage(request.body as Record<string, unknown>);
    const user = dto === undefined ? undefined : this.auth.authenticateDirectly(request);
    if (dto === undefined || user === undefined) {
      markBodyRead(request);
      next();

      return;
    }
    labelRoute(request, SEND_ROUTE);
    void user
      .then((authenticated) => this.send(authenticated, dto, request))
      .then(
        (id) => reply(response, id),
        (error: unknown) => this.problems.respond(error, request, response),
      );
  }

  private async send(
    user: AuthenticatedUser,
    dto: SendMessageDto,
    request: Request,
  ): Promise<string> {
    // As the guard leaves them, for anything that reads the request later.
    Object.assign(request, { authInfo: undefined, user });
    const result = await this.messages.send(clientSendCommand(user, dto, request));

    return result.id;
  }
}

/**
 * What Nest and Express answer for the controller's `{id}` with status 200:
 * the same headers, in the same order, and the same bytes.
 */
function reply(response: Response, id: string): void {
  const text = JSON.stringify({ id });
  response.statusCode = 200;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.setHeader('Content-Length', String(Buffer.byteLength(text)));
  response.end(text);
}
