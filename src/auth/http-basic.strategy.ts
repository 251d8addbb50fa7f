import type { Request } from 'express';
import { Strategy } from 'passport-strategy';

export type BasicVerify = (
  request: Request,
  login: string,
  password: string,
  done: (error: unknown, user?: unknown) => void,
) => void;

/**
 * HTTP Basic as a passport strategy (RFC 7617). The credentials split at the
 * first colon, so a password may contain colons; a user-id may not (section
 * 2). A request without Basic credentials fails over to the next strategy.
 */
export class HttpBasicStrategy extends Strategy {
  readonly name = 'basic';

  constructor(private readonly verify: BasicVerify) {
    super();
  }

  override authenticate(request: Request): void {
    const credentials = parseBasicAuthorization(request.headers.authorization);
    if (credentials === undefined) {
      this.fail('Basic realm="api"', 401);

      return;
    }
    this.verify(request, credentials.login, credentials.password, (error, user) => {
      if (error !== null && error !== undefined) {
        this.error(
          error instanceof Error ? error : new Error('authentication failed', { cause: error }),
        );
      } else if (user === undefined || user === false) {
        this.fail('Basic realm="api"', 401);
      } else {
        this.success(user);
      }
    });
  }
}

export function parseBasicAuthorization(
  header: string | undefined,
): { login: string; password: string } | undefined {
  const match = /^basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header ?? '');
  if (match === null) {
    return undefined;
  }
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    return undefined;
  }

  return { login: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
