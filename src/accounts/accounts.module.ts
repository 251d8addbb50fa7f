import { Module, OnApplicationBootstrap } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { PasswordHasher } from '#src/accounts/password-hasher.js';
import { UsersService } from '#src/accounts/users.service.js';

@Module({
  providers: [DomainsService, UsersService, PasswordHasher],
  exports: [DomainsService, UsersService, PasswordHasher],
})
export class AccountsModule implements OnApplicationBootstrap {
  constructor(private readonly domains: DomainsService) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.domains.ensureConfigured();
  }
}
