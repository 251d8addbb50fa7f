import { Injectable, NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';

import { AppError } from '#src/common/errors/problems.js';
import { AppConfig } from '#src/config/app-config.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Deeper than any request body of this API needs; deep enough to stop recursion in the DTO mappers. */
export const MAX_JSON_DEPTH = 32;

/** Keys that would reach an object's prototype in careless code further on. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/**
 * Parses JSON bodies with the configured size limit, and refuses what a
 * lenient parser would quietly mangle: invalid UTF-8 (which would otherwise
 * become U+FFFD and be stored), other charsets, bodies that are not JSON at
 * all, nesting deeper than MAX_JSON_DEPTH and prototype keys.
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
      ['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method)
    ) {
      const type = request.headers['content-type'] ?? '';
      const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
      if (
        !JSON_MEDIA_TYPE.test(type) ||
        (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
      ) {
        next(
          new AppError('unsupported-media-type', {
            detail: 'send the body as application/json in UTF-8',
          }),
        );

        return;
      }
    }
    this.parse(request, response, (error?: unknown) => {
      if (error !== undefined) {
        next(toBodyError(error));

        return;
      }
      const problem = shapeProblem(request.body);
      next(problem === undefined ? undefined : new AppError('invalid-json', { detail: problem }));
    });
  }
}

/** Walks the parsed body without recursion; says what is wrong with its shape, if anything. */
export function shapeProblem(body: unknown): string | undefined {
  const pending: { value: unknown; depth: number }[] = [{ value: body, depth: 1 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop()!;
    if (value === null || typeof value !== 'object') {
      continue;
    }
    if (depth > MAX_JSON_DEPTH) {
      return `the body is nested deeper than ${MAX_JSON_DEPTH} levels`;
    }
    for (const [key, child] of Object.entries(value)) {
      if (PROTOTYPE_KEYS.has(key)) {
        return `the key ${key} is not allowed`;
      }
      pending.push({ value: child, depth: depth + 1 });
    }
  }

  return undefined;
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
