import { createHash, timingSafeEqual } from 'node:crypto';

import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  UseGuards,
} from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { ApiBasicAuth, ApiBearerAuth, ApiResponse, ApiSecurity } from '@nestjs/swagger';
import type { Request } from 'express';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { parseBasicAuthorization } from '#src/auth/http-basic.strategy.js';
import { LoginThrottle } from '#src/auth/login-throttle.service.js';
import { BasicStrategy, BearerStrategy } from '#src/auth/strategies.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';

/** Credentials in the two forms the strategies take without passport's dispatch. */
export type DirectCredentials =
  | { readonly scheme: 'bearer'; readonly token: string }
  | { readonly scheme: 'basic'; readonly login: string; readonly password: string };

/** Passport's failure for a request with no usable credentials, turned into our problem. */
function checkedUser<T>(error: unknown, user: T | false, detail: string): T {
  if (error instanceof Error) {
    throw error;
  }
  if (error !== null && error !== undefined) {
    throw new AppError('unauthorized', { detail, cause: error });
  }
  if (user === false || user === undefined || user === null) {
    throw new AppError('unauthorized', { detail });
  }

  return user;
}

/**
 * Bearer, then Basic, through the passport strategies. The two requests
 * nearly every client sends (one `Authorization` header, no `access_token`
 * parameter) call the strategies' own `validate` directly: passport's
 * dispatch would come to the same call and the same result, at several
 * times the cost per request. Anything else goes through passport.
 */
@Injectable()
export class UserAuthGuard extends AuthGuard(['bearer', 'basic']) {
  constructor(
    private readonly bearer: BearerStrategy,
    private readonly basic: BasicStrategy,
  ) {
    // The passport options still arrive by the parent's property injection.
    super();
  }

  override canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<Request & { user?: AuthenticatedUser; authInfo?: unknown }>();
    const direct = this.authenticateDirectly(request);
    if (direct === undefined) {
      return super.canActivate(context) as Promise<boolean>;
    }

    return direct.then((user) => {
      request.authInfo = undefined;
      request.user = user;

      return true;
    });
  }

  override handleRequest<T>(error: unknown, user: T | false): T {
    return checkedUser(error, user, 'send a bearer token or Basic credentials (bare-jid:password)');
  }

  /**
   * The strategies' verdict when passport would only forward to one of them,
   * else undefined (the request then needs passport).
   */
  authenticateDirectly(request: Request): Promise<AuthenticatedUser> | undefined {
    const credentials = this.directCredentials(request);

    return credentials === undefined ? undefined : this.validateDirectly(request, credentials);
  }

  /**
   * The credentials of a request that passport would only forward to one
   * strategy: one `Bearer` or `Basic` header and no `access_token` in the
   * body or the query string. The send fast route asks before the body is
   * read; the send hand check then refuses a body with `access_token`.
   */
  directCredentials(request: Request): DirectCredentials | undefined {
    const header = request.headers.authorization;
    const body = request.body as Record<string, unknown> | undefined;
    // passport-http-bearer also reads `access_token` from the body and the query string
    // (which Express parses anew on every read of `request.query`, so look for a query first).
    if (
      header === undefined ||
      (typeof body === 'object' && body !== null && Boolean(body.access_token)) ||
      (request.url.includes('?') && hasQueryToken(request))
    ) {
      return undefined;
    }
    const space = header.indexOf(' ');
    if (space <= 0 || header.indexOf(' ', space + 1) !== -1) {
      return undefined;
    }
    const scheme = header.slice(0, space).toLowerCase();
    if (scheme === 'bearer' && space < header.length - 1) {
      return { scheme: 'bearer', token: header.slice(space + 1) };
    }
    const basic = scheme === 'basic' ? parseBasicAuthorization(header) : undefined;

    return basic === undefined ? undefined : { scheme: 'basic', ...basic };
  }

  /** What the strategy of these credentials says, as passport would have it say. */
  validateDirectly(request: Request, credentials: DirectCredentials): Promise<AuthenticatedUser> {
    return credentials.scheme === 'bearer'
      ? this.bearer.validate(credentials.token)
      : this.basic.validate(request, credentials.login, credentials.password);
  }
}

@Injectable()
export class BasicAuthGuard extends AuthGuard('basic') {
  override handleRequest<T>(error: unknown, user: T | false): T {
    return checkedUser(error, user, 'send Basic credentials (bare-jid:password)');
  }
}

function hasQueryToken(request: Request): boolean {
  const query = request.query as Record<string, unknown> | undefined;

  return typeof query === 'object' && query !== null && Boolean(query.access_token);
}

/** The answers every user-authenticated route may give, for the OpenAPI document. */
const USER_AUTH_PROBLEMS = [
  ApiResponse({
    status: 401,
    description: 'Missing or invalid credentials',
    type: ProblemResponse,
  }),
  ApiResponse({
    status: 429,
    description: 'Too many failed logins; see Retry-After',
    type: ProblemResponse,
  }),
];

/** Marks a client route: authenticated as a user, documented with both schemes. */
export function UserAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(UserAuthGuard),
    ApiBearerAuth('token'),
    ApiBasicAuth('user'),
    ...USER_AUTH_PROBLEMS,
  );
}

/** Marks a route that takes only `bare-jid:password` (the token endpoint). */
export function PasswordAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(UseGuards(BasicAuthGuard), ApiBasicAuth('user'), ...USER_AUTH_PROBLEMS);
}

export const ADMIN_CREDENTIALS = Symbol('ADMIN_CREDENTIALS');

export interface AdminCredentials {
  readonly username: string;
  readonly password: string;
}

/** The admin API takes only the configured admin credentials; user accounts never open it. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(
    @Inject(ADMIN_CREDENTIALS) credentials: AdminCredentials,
    private readonly throttle: LoginThrottle,
  ) {
    this.expected = digest(`${credentials.username}:${credentials.password}`);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const credentials = parseBasicAuthorization(request.headers.authorization);
    const address = request.ip ?? 'unknown';
    if (credentials === undefined) {
      throw new AppError('unauthorized', {
        detail: 'the admin API takes HTTP Basic with the admin credentials',
      });
    }
    await this.throttle.assertAllowed('admin', address);
    const given = digest(`${credentials.login}:${credentials.password}`);
    if (!timingSafeEqual(given, this.expected)) {
      await this.throttle.recordFailure('admin', address);
      throw new AppError('invalid-credentials');
    }

    return true;
  }
}

export function AdminAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(AdminAuthGuard),
    ApiSecurity('admin'),
    ApiResponse({
      status: 401,
      description: 'Missing or invalid admin credentials',
      type: ProblemResponse,
    }),
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
