import { createParamDecorator, ExecutionContext } from '@nestjs/common';

import type { UserRef } from '#src/accounts/users.service.js';

/** The user a request or socket acts as, once authenticated. */
export interface AuthenticatedUser extends UserRef {
  readonly method: 'basic' | 'token';
  /** Set for token logins, so the token can be revoked. */
  readonly tokenId?: string;
}

export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthenticatedUser => {
    return context.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user;
  },
);
