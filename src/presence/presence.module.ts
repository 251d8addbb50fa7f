import { DynamicModule, Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { ContactsModule } from '#src/contacts/contacts.module.js';
import { PresenceController } from '#src/presence/presence.controller.js';
import { PresenceGateway } from '#src/presence/presence.gateway.js';
import { OfflineMarks } from '#src/presence/offline-marks.service.js';
import { PresenceService } from '#src/presence/presence.service.js';
import { TypingService } from '#src/presence/typing.service.js';

/** Presence, last activity, offline marks and typing; the socket.io events only with the realtime module on. */
@Module({})
export class PresenceModule {
  static register(options: { readonly realtime: boolean }): DynamicModule {
    return {
      module: PresenceModule,
      imports: [AuthModule, AccountsModule, BlockingModule, ContactsModule],
      controllers: [PresenceController],
      providers: [
        PresenceService,
        TypingService,
        OfflineMarks,
        ...(options.realtime ? [PresenceGateway] : []),
      ],
      exports: [PresenceService, TypingService, OfflineMarks],
    };
  }
}
