import { Injectable, NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';

import { AppError } from '#src/common/errors/problems.js';
import { AppConfig } from '#src/config/app-config.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses JSON bodies with the configured size limit, and refuses what a
 * lenient parser would quietly mangle: invalid UTF-8 (which would otherwise
 * become U+FFFD and be stored), and bodies that are not JSON at all.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: express.RequestHandler;

  constructor(config: AppConfig) {
    this.parse = express.json({
      limit: config.http.bodyLimitBytes,
      strict: true,
      type: ['application/json', 'application/*+json'],
      verify: (_request, _response, buffer) => {
        // body-parser decorates what is thrown here, so throw a plain error and translate it below.
        strictUtf8.decode(buffer);
      },
    });
  }

  use(request: Request, response: Response, next: NextFunction): void {
    const hasBody =
      request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0';
    if (
      (hasBody || request.headers['transfer-encoding'] !== undefined) &&
      ['POST', 'PUT', 'PATCH'].includes(request.method)
    ) {
      const type = request.headers['content-type'] ?? '';
      if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
        next(
          new AppError('unsupported-media-type', { detail: 'send the body as application/json' }),
        );

        return;
      }
    }
    this.parse(request, response, (error?: unknown) =>
      next(error === undefined ? undefined : toBodyError(error)),
    );
  }
}

function toBodyError(error: unknown): AppError {
  if (error instanceof AppError) {
    return error;
  }
  const type = (error as { type?: string }).type;
  if (type === 'entity.verify.failed') {
    return new AppError('invalid-encoding', { cause: error });
  }
  if (type === 'entity.too.large') {
    return new AppError('payload-too-large', { detail: (error as Error).message, cause: error });
  }
  if (type === 'entity.parse.failed') {
    return new AppError('invalid-json', { detail: (error as Error).message, cause: error });
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppError('unsupported-media-type', {
      detail: (error as Error).message,
      cause: error,
    });
  }

  return new AppError('bad-request', { detail: (error as Error).message, cause: error });
}
