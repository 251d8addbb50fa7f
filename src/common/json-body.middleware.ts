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
/** The content type nearly every client sends, which the fast reader takes. */
const PLAIN_JSON = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;
/** `{`: the fast reader takes object bodies only. */
const OPEN_BRACE = 0x7b;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/** Requests whose body `use` read ahead of the middleware's turn, with its error if any. */
const bodiesRead = new WeakMap<Request, { readonly error?: unknown }>();

/**
 * Marks a request whose body was read through `use` ahead of the
 * middleware's own turn (the send fast route reads it before handing the
 * request to Express): at its turn the middleware passes on what that read
 * gave, the error or the body already in place.
 */
export function markBodyRead(request: Request, error?: unknown): void {
  bodiesRead.set(request, error === undefined ? {} : { error });
}

/**
 * Parses JSON bodies with the configured size limit, and refuses what a
 * lenient parser would quietly mangle: invalid UTF-8 (which would otherwise
 * become U+FFFD and be stored), other charsets, bodies that are not JSON at
 * all, nesting deeper than MAX_JSON_DEPTH and prototype keys.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: express.RequestHandler;
  private readonly limit: number;

  constructor(config: AppConfig) {
    this.limit = config.http.bodyLimitBytes;
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
    const earlier = bodiesRead.get(request);
    if (earlier !== undefined) {
      next(earlier.error);

      return;
    }
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
    if (!this.readPlainJson(request, response, next)) {
      this.parseWithBodyParser(request, response, next);
    }
  }

  /**
   * Whether `use` reads this request's body itself (a declared length within
   * the limit, `application/json` in UTF-8 without content coding, a body
   * not read yet) rather than through body-parser.
   */
  readsDirectly(request: Request): boolean {
    const { headers } = request;
    const length = headers['content-length'];

    return (
      length !== undefined &&
      /^[1-9]\d{0,9}$/.test(length) &&
      Number(length) <= this.limit &&
      headers['transfer-encoding'] === undefined &&
      headers['content-encoding'] === undefined &&
      PLAIN_JSON.test(headers['content-type'] ?? '') &&
      request.readable &&
      request.readableFlowing === null
    );
  }

  private parseWithBodyParser(request: Request, response: Response, next: NextFunction): void {
    this.parse(request, response, (error?: unknown) => {
      if (error !== undefined) {
        next(toBodyError(error));

        return;
      }
      checkShape(request.body, next);
    });
  }

  /**
   * Reads the common request itself: a declared length within the limit,
   * `application/json` in UTF-8 without content coding, an object body.
   * body-parser would read it to the same value, at several times the cost;
   * any other request, or a body that does not start with `{`, is left to
   * body-parser (its first chunk put back), so its verdicts stay the
   * reference. False when the request is not one of these.
   */
  private readPlainJson(request: Request, response: Response, next: NextFunction): boolean {
    if (!this.readsDirectly(request)) {
      return false;
    }
    const length = request.headers['content-length']!;
    const chunks: Buffer[] = [];
    let received = 0;
    const detach = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('aborted', onAborted);
      request.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      if (received === 0 && chunk[0] !== OPEN_BRACE) {
        detach();
        request.pause();
        request.unshift(chunk);
        this.parseWithBodyParser(request, response, next);
        request.resume();

        return;
      }
      chunks.push(chunk);
      received += chunk.length;
    };
    const onEnd = () => {
      detach();
      if (received !== Number(length)) {
        next(new AppError('bad-request', { detail: 'request size did not match content length' }));

        return;
      }
      const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      let text: string;
      try {
        text = strictUtf8.decode(buffer);
      } catch (error: unknown) {
        next(new AppError('invalid-encoding', { cause: error }));

        return;
      }
      try {
        request.body = JSON.parse(text) as unknown;
      } catch (error: unknown) {
        next(new AppError('invalid-json', { detail: (error as Error).message, cause: error }));

        return;
      }
      checkShape(request.body, next);
    };
    const onAborted = () => {
      detach();
      next(new AppError('bad-request', { detail: 'request aborted' }));
    };
    const onError = (error: Error) => {
      detach();
      next(new AppError('bad-request', { detail: error.message, cause: error }));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('aborted', onAborted);
    request.on('error', onError);

    return true;
  }
}

function checkShape(body: unknown, next: NextFunction): void {
  const problem = shapeProblem(body);
  next(problem === undefined ? undefined : new AppError('invalid-json', { detail: problem }));
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
