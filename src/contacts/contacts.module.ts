import { Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { AdminContactsController } from '#src/contacts/admin-contacts.controller.js';
import { ContactsController } from '#src/contacts/contacts.controller.js';
import { RosterService } from '#src/contacts/roster.service.js';
import { SubscriptionsService } from '#src/contacts/subscriptions.service.js';

/** Rosters and presence subscriptions. */
@Module({
  imports: [AuthModule, AccountsModule, BlockingModule],
  controllers: [ContactsController, AdminContactsController],
  providers: [RosterService, SubscriptionsService],
  exports: [RosterService, SubscriptionsService],
})
export class ContactsModule {}
