import { DynamicModule, Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { AdminRoomsController } from '#src/rooms/admin-rooms.controller.js';
import { RoomMembersService } from '#src/rooms/room-members.service.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import { RoomWriter } from '#src/rooms/room-writer.service.js';
import { RoomsController } from '#src/rooms/rooms.controller.js';
import { RoomsService } from '#src/rooms/rooms.service.js';

/**
 * Group conversations: the client and admin APIs over one set of
 * transport-neutral services, with the inbox, markers and reactions of the
 * messaging module.
 */
@Module({})
export class RoomsModule {
  static register(messaging: DynamicModule): DynamicModule {
    return {
      module: RoomsModule,
      imports: [AuthModule, AccountsModule, messaging],
      controllers: [RoomsController, AdminRoomsController],
      providers: [RoomWriter, RoomsService, RoomMembersService, RoomMessagesService],
      exports: [RoomsService, RoomMembersService, RoomMessagesService],
    };
  }
}
