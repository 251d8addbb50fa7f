import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { resolveAdminCredentials } from '#src/auth/admin-credentials.js';
import {
  ADMIN_CREDENTIALS,
  AdminAuthGuard,
  BasicAuthGuard,
  UserAuthGuard,
} from '#src/auth/guards.js';
import { LoginThrottle } from '#src/auth/login-throttle.service.js';
import { PasswordAuthenticator } from '#src/auth/password-authenticator.service.js';
import { BasicStrategy, BearerStrategy } from '#src/auth/strategies.js';
import { TokensController } from '#src/auth/tokens.controller.js';
import { TokensService } from '#src/auth/tokens.service.js';
import { AppConfig } from '#src/config/app-config.js';

@Module({
  imports: [PassportModule, AccountsModule],
  controllers: [TokensController],
  providers: [
    { provide: ADMIN_CREDENTIALS, inject: [AppConfig], useFactory: resolveAdminCredentials },
    LoginThrottle,
    PasswordAuthenticator,
    TokensService,
    BasicStrategy,
    BearerStrategy,
    UserAuthGuard,
    BasicAuthGuard,
    AdminAuthGuard,
  ],
  exports: [
    ADMIN_CREDENTIALS,
    LoginThrottle,
    PasswordAuthenticator,
    TokensService,
    AdminAuthGuard,
    UserAuthGuard,
    BasicAuthGuard,
    // The user guard calls them directly for the common requests.
    BasicStrategy,
    BearerStrategy,
  ],
})
export class AuthModule {}
