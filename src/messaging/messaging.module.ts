import { DynamicModule, Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { InboxController } from '#src/inbox/inbox.controller.js';
import { InboxService } from '#src/inbox/inbox.service.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { JsonBodyMiddleware } from '#src/common/json-body.middleware.js';
import { AdminMessagesController } from '#src/messaging/admin-messages.controller.js';
import { ArchiveWriter } from '#src/messaging/archive-writer.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { MarkersService } from '#src/messaging/markers.service.js';
import { MessageOperationsService } from '#src/messaging/message-operations.service.js';
import { MessagesController } from '#src/messaging/messages.controller.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import { PeerNotifier } from '#src/messaging/peer-notifier.js';
import { RoomMessageOperations } from '#src/messaging/room-message-operations.js';
import { SendFastRoute } from '#src/messaging/send-fast-route.js';
import { SseController } from '#src/messaging/sse.controller.js';

/** One-to-one messages, their archive and operations, chat markers, and the inbox. */
@Module({})
export class MessagingModule {
  static register(options: { readonly sse: boolean }): DynamicModule {
    return {
      module: MessagingModule,
      imports: [AuthModule, AccountsModule, BlockingModule],
      controllers: [
        MessagesController,
        AdminMessagesController,
        InboxController,
        ...(options.sse ? [SseController] : []),
      ],
      providers: [
        ArchiveWriter,
        ArchiveService,
        MessagesService,
        MessageOperationsService,
        MarkersService,
        InboxService,
        PeerNotifier,
        RoomMessageOperations,
        JsonBodyMiddleware,
        SendFastRoute,
      ],
      exports: [
        MessagesService,
        ArchiveService,
        MessageOperationsService,
        MarkersService,
        InboxService,
      ],
    };
  }
}
