import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy as PassportBearer } from 'passport-http-bearer';

import { HttpBasicStrategy } from '#src/auth/http-basic.strategy.js';
import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { PasswordAuthenticator } from '#src/auth/password-authenticator.service.js';
import { TokensService } from '#src/auth/tokens.service.js';

/** HTTP Basic with `bare-jid:password`, the scheme XMPP-derived REST APIs use. */
@Injectable()
export class BasicStrategy extends PassportStrategy(HttpBasicStrategy, 'basic') {
  constructor(private readonly authenticator: PasswordAuthenticator) {
    super();
  }

  async validate(request: Request, login: string, password: string): Promise<AuthenticatedUser> {
    const user = await this.authenticator.authenticate(login, password, request.ip ?? 'unknown');

    return { ...user, method: 'basic' };
  }
}

/** Bearer access tokens issued by `POST /api/tokens`. */
@Injectable()
export class BearerStrategy extends PassportStrategy(PassportBearer, 'bearer') {
  constructor(private readonly tokens: TokensService) {
    super();
  }

  async validate(token: string): Promise<AuthenticatedUser> {
    const verified = await this.tokens.verifyAccess(token);

    return { ...verified.user, method: 'token', tokenId: verified.tokenId };
  }
}
