import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

import { Injectable } from '@nestjs/common';
import type { Express, Request, Response } from 'express';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { type DirectCredentials, UserAuthGuard } from '#src/auth/guards.js';
import { ProblemFilter } from '#src/common/errors/problem.filter.js';
import type { EveryRequest } from '#src/common/every-request.js';
import { JsonBodyMiddleware, markBodyRead } from '#src/common/json-body.middleware.js';
import { inRequestContext } from '#src/common/request-context.js';
import { clientSendCommand } from '#src/messaging/client-send.js';
import { acceptSendMessage, type SendMessageDto } from '#src/messaging/dto/send-message.dto.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { labelRoute } from '#src/observability/http-metrics.middleware.js';

/** The route as Express names it, for the request-duration metrics. */
const SEND_ROUTE = '/api/messages';

/**
 * `POST /api/messages` for the requests nearly every client sends, answered
 * in front of Express: Express's dispatch through its hundred-odd layers and
 * Nest's guard, pipe, parameter and reply machinery are a large share of a
 * send's CPU, and this route needs none of them. It takes the general path's
 * steps with the general path's code: the middleware every request gets
 * (request id, log line, metrics, shutdown drain), the body middleware's
 * reader, the user guard's direct authentication, the DTO's hand check, the
 * controller's command and the problem filter. A request it is not sure of
 * (another URL or method, no declared length, credentials that need
 * passport, a body the hand check does not accept, a body that could not
 * be read) goes on to Express with what was done so far, so every answer
 * outside the common case is the general path's own.
 */
@Injectable()
export class SendFastRoute {
  private readonly problems = new ProblemFilter();

  constructor(
    private readonly body: JsonBodyMiddleware,
    private readonly auth: UserAuthGuard,
    private readonly messages: MessagesService,
  ) {}

  /** Puts the route in front of `application` on `server`, as the other listeners that share the port do. */
  install(server: Server, application: Express, everyRequest: EveryRequest): void {
    const general = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const handOn = (request: IncomingMessage, response: ServerResponse) => {
      general.forEach((listener) => listener.call(server, request, response));
    };
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const credentials = this.credentialsOf(request);
      if (credentials === undefined) {
        handOn(request, response);

        return;
      }
      const [expressRequest, expressResponse] = asExpress(application, request, response);
      everyRequest.run(expressRequest, expressResponse, () =>
        this.readBody(expressRequest, expressResponse, credentials, () => {
          everyRequest.ranFor(request);
          handOn(request, response);
        }),
      );
    });
  }

  /** The credentials of a request this route may take, judged on its head alone. */
  private credentialsOf(request: IncomingMessage): DirectCredentials | undefined {
    return request.method === 'POST' &&
      request.url === SEND_ROUTE &&
      this.body.readsDirectly(request as Request)
      ? this.auth.directCredentials(request as Request)
      : undefined;
  }

  private readBody(
    request: Request,
    response: Response,
    credentials: DirectCredentials,
    handOn: () => void,
  ): void {
    // The body's events come in the connection's context, not the request's.
    const read = inRequestContext((error?: unknown) => {
      const dto =
        error === undefined
          ? acceptSendMessage(request.body as Record<string, unknown>)
          : undefined;
      if (dto === undefined) {
        markBodyRead(request, error);
        handOn();

        return;
      }
      labelRoute(request, SEND_ROUTE);
      void this.auth
        .validateDirectly(request, credentials)
        .then((user) => this.send(user, dto, request))
        .then(
          (id) => reply(response, id),
          (failure: unknown) => this.problems.respond(failure, request, response),
        );
    });
    this.body.use(request, response, read);
  }

  private async send(
    user: AuthenticatedUser,
    dto: SendMessageDto,
    request: Request,
  ): Promise<string> {
    // As the guard leaves them, for anything that reads the request later.
    const authenticated = request as Request & { authInfo?: unknown; user?: unknown };
    authenticated.authInfo = undefined;
    authenticated.user = user;
    const result = await this.messages.send(clientSendCommand(user, dto, request));

    return result.id;
  }
}

/**
 * What Express does first with every request it handles, so that the code
 * shared with the general path finds what it expects (`request.ip`,
 * `request.originalUrl`, `response.status()`). The prototypes are already
 * Express's when the server comes from RelayExpressAdapter, and setting the
 * same prototype again changes nothing.
 */
function asExpress(
  application: Express,
  request: IncomingMessage,
  response: ServerResponse,
): [Request, Response] {
  Object.setPrototypeOf(request, application.request);
  Object.setPrototypeOf(response, application.response);
  const expressRequest = request as Request;
  const expressResponse = response as Response;
  expressRequest.res = expressResponse;
  expressResponse.req = expressRequest;
  expressResponse.locals = Object.create(null) as Record<string, unknown>;
  expressRequest.baseUrl = '';
  expressRequest.originalUrl = request.url!;

  return [expressRequest, expressResponse];
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
