import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

import { AppError, ProblemCode, toProblemDocument } from '#src/common/errors/problems.js';

const HTTP_STATUS_CODES: Record<number, ProblemCode> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'too-many-attempts',
  503: 'unavailable',
};

/** Renders every failure of an HTTP request as application/problem+json (RFC 9457). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      throw exception;
    }
    this.respond(
      exception,
      host.switchToHttp().getRequest<Request>(),
      host.switchToHttp().getResponse<Response>(),
    );
  }

  /** The answer to a failed request; also for routes that run outside Nest's pipeline. */
  respond(exception: unknown, request: Request, response: Response): void {
    const error = toAppError(exception);
    if (error.status >= 500) {
      // Logged once, with the request id; the client sees nothing internal.
      this.logger.error({ err: exception, requestId: requestIdOf(request) }, 'request failed');
    }
    if (response.headersSent) {
      response.end();

      return;
    }
    if (error.options.retryAfter !== undefined) {
      response.setHeader('Retry-After', String(Math.ceil(error.options.retryAfter)));
    }
    if (error.code === 'unauthorized' || error.code === 'invalid-credentials') {
      response.setHeader('WWW-Authenticate', 'Basic realm="api", Bearer');
    }
    response
      .status(error.status)
      .type('application/problem+json')
      .send(JSON.stringify(toProblemDocument(error, requestIdOf(request), request.originalUrl)));
  }
}

export function toAppError(exception: unknown): AppError {
  if (exception instanceof AppError) {
    return exception;
  }
  if (exception instanceof HttpException) {
    const code = HTTP_STATUS_CODES[exception.getStatus()] ?? 'internal';
    const detail = exception.getStatus() < 500 ? exception.message : undefined;

    return new AppError(code, { detail, cause: exception });
  }

  return new AppError('internal', { cause: exception });
}

function requestIdOf(request: Request): string | undefined {
  const id = (request as Request & { id?: unknown }).id;

  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
