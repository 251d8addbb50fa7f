import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { ThreadPageQuery } from '#src/messaging/dto/send-message.dto.js';
import {
  AddRoomMemberDto,
  ConfigureRoomDto,
  CreateRoomDto,
  RoomDetailsResponse,
  RoomIdResponse,
  RoomMessageResponse,
  RoomSummaryResponse,
  SendRoomMessageDto,
} from '#src/rooms/dto/rooms.dto.js';
import { RoomMembersService } from '#src/rooms/room-members.service.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import { toDetails, toSummary } from '#src/rooms/room-responses.js';
import { parseRoomId } from '#src/rooms/room-rules.js';
import { RoomsService } from '#src/rooms/rooms.service.js';

const NOT_FOUND = ApiResponse({
  status: 404,
  description:
    '`room-not-found`: no such room, or the caller is not a member (the same answer for both)',
  type: ProblemResponse,
});
const FORBIDDEN = ApiResponse({
  status: 403,
  description: '`room-forbidden`: the caller’s role does not allow it',
  type: ProblemResponse,
});
const INVALID = ApiResponse({
  status: 400,
  description: 'Invalid fields, room id or JID',
  type: ProblemResponse,
});

@ApiTags('rooms')
@UserAuth()
@Controller('api/rooms')
export class RoomsController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly members: RoomMembersService,
    private readonly messages: RoomMessagesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The rooms the user is in' })
  @ApiOkResponse({ type: [RoomSummaryResponse] })
  async list(@CurrentUser() user: AuthenticatedUser): Promise<RoomSummaryResponse[]> {
    return (await this.rooms.roomsOf(user)).map(toSummary);
  }

  @Post()
  @ApiOperation({ summary: 'Create a room with a generated id; the creator is its owner' })
  @ApiCreatedResponse({ type: RoomIdResponse })
  @INVALID
  @ApiResponse({
    status: 409,
    description: '`room-limit-reached`: the user is in ROOMS_MAX_PER_USER rooms',
    type: ProblemResponse,
  })
  async create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: CreateRoomDto,
  ): Promise<RoomIdResponse> {
    return { id: (await this.rooms.create(user, dto, user)).id };
  }

  @Put(':id')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a room with a chosen id; the creator is its owner' })
  @ApiCreatedResponse({ type: RoomIdResponse })
  @INVALID
  @ApiResponse({
    status: 409,
    description: '`room-exists`: the id is taken; `room-limit-reached`',
    type: ProblemResponse,
  })
  async createWithId(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
    @Body() dto: CreateRoomDto,
  ): Promise<RoomIdResponse> {
    return { id: (await this.rooms.create(user, { ...dto, id: parseRoomId(id) }, user)).id };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Name, subject, settings and participants with their roles' })
  @ApiOkResponse({ type: RoomDetailsResponse })
  @NOT_FOUND
  async details(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
  ): Promise<RoomDetailsResponse> {
    return toDetails(await this.rooms.details(parseRoomId(id), user));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Destroy the room with its archive (owners)' })
  @ApiNoContentResponse()
  @FORBIDDEN
  @NOT_FOUND
  async destroy(@CurrentUser() user: AuthenticatedUser, @Param('id') id: string): Promise<void> {
    await this.rooms.destroy(parseRoomId(id), user);
  }

  @Put(':id/config')
  @ApiOperation({
    summary: 'Change the name and subject (per the `configure` setting), or the settings (owners)',
  })
  @ApiOkResponse({ type: RoomDetailsResponse })
  @INVALID
  @FORBIDDEN
  @NOT_FOUND
  async configure(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
    @Body() dto: ConfigureRoomDto,
  ): Promise<RoomDetailsResponse> {
    return toDetails(await this.rooms.configure(parseRoomId(id), user, dto));
  }

  @Post(':id/users')
  @HttpCode(204)
  @ApiOperation({ summary: 'Add a user of any served domain (per the `invite` setting)' })
  @ApiNoContentResponse()
  @INVALID
  @FORBIDDEN
  @ApiResponse({
    status: 404,
    description: '`room-not-found` (as above), or `user-not-found`',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 409,
    description: '`room-member-exists`, `room-full` (ROOM_MAX_MEMBERS), `room-limit-reached`',
    type: ProblemResponse,
  })
  async addMember(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
    @Body() dto: AddRoomMemberDto,
  ): Promise<void> {
    await this.members.add(parseRoomId(id), user, dto.user, dto.role ?? 'member');
  }

  @Delete(':id/users/:user')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Remove a member (per the `remove` setting), or leave by naming yourself',
    description:
      'When the last owner leaves, the longest-standing member becomes owner; when the last member leaves, the room is destroyed.',
  })
  @ApiNoContentResponse()
  @INVALID
  @FORBIDDEN
  @ApiResponse({
    status: 404,
    description: '`room-not-found` (as above), or `room-member-not-found`',
    type: ProblemResponse,
  })
  async removeMember(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
    @Param('user') member: string,
  ): Promise<void> {
    await this.members.remove(parseRoomId(id), user, member);
  }

  @Post(':id/messages')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a message to the room, a chat marker on one of its messages, or both',
    description:
      'A message is stored once, then pushed as `room:message` to every member’s sessions; returns once committed, with the message id (or, for a marker alone, the id of the message marked). ' +
      'A marker is pushed as `marker` to the other members; displayed recounts your unread messages in the room.',
  })
  @ApiOkResponse({ type: RoomIdResponse })
  @INVALID
  @NOT_FOUND
  @ApiResponse({ status: 413, description: 'Over MESSAGE_MAX_BYTES', type: ProblemResponse })
  @ApiResponse({
    status: 422,
    description: 'The client_id was used before for a different message',
    type: ProblemResponse,
  })
  async send(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
    @Body() dto: SendRoomMessageDto,
  ): Promise<RoomIdResponse> {
    return this.messages.post(user, {
      roomId: parseRoomId(id),
      source: 'client',
      ...(dto.body === undefined ? {} : { body: dto.body }),
      ...(dto.client_id === undefined ? {} : { clientId: dto.client_id }),
      ...(dto.reply_to === undefined ? {} : { replyTo: dto.reply_to }),
      ...(dto.thread === undefined ? {} : { thread: dto.thread }),
      ...(dto.marker === undefined ? {} : { marker: dto.marker }),
    });
  }

  @Get(':id/messages')
  @ApiOperation({
    summary: 'The room archive with joins, departures and changes, oldest first',
    description: 'Same paging as GET /api/messages.',
  })
  @ApiOkResponse({ type: [RoomMessageResponse] })
  @NOT_FOUND
  archive(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id') id: string,
    @Query() query: ThreadPageQuery,
  ): Promise<RoomMessageView[]> {
    const { thread, ...page } = query;

    return this.messages.page(parseRoomId(id), user, page, thread);
  }
}
