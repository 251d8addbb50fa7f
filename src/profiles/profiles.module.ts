import { Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { ProfilesController } from '#src/profiles/profiles.controller.js';
import { ProfilesService } from '#src/profiles/profiles.service.js';

/** User profiles: the REST routes, and the service the XMPP vCards (XEP-0054) use. */
@Module({
  imports: [AuthModule, AccountsModule, BlockingModule],
  controllers: [ProfilesController],
  providers: [ProfilesService],
  exports: [ProfilesService],
})
export class ProfilesModule {}
