import { DynamicModule, Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { AdminMessagesController } from '#src/messaging/admin-messages.controller.js';
import { ArchiveWriter } from '#src/messaging/archive-writer.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { MessagesController } from '#src/messaging/messages.controller.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { SseController } from '#src/messaging/sse.controller.js';

@Module({})
export class MessagingModule {
  static register(options: { readonly sse: boolean }): DynamicModule {
    return {
      module: MessagingModule,
      imports: [AuthModule, AccountsModule, BlockingModule],
      controllers: [
        MessagesController,
        AdminMessagesController,
        ...(options.sse ? [SseController] : []),
      ],
      providers: [ArchiveWriter, ArchiveService, MessagesService],
      exports: [MessagesService, ArchiveService],
    };
  }
}
