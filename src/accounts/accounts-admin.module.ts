import { Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AdminDomainsController } from '#src/accounts/admin-domains.controller.js';
import { AdminUsersController } from '#src/accounts/admin-users.controller.js';
import { AuthModule } from '#src/auth/auth.module.js';

@Module({
  imports: [AuthModule, AccountsModule],
  controllers: [AdminUsersController, AdminDomainsController],
})
export class AccountsAdminModule {}
