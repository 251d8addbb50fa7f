import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import { parseUserAddress } from '#src/accounts/users.service.js';
import { AdminAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { ArchivePageQuery } from '#src/common/paging.js';
import {
  AddRoomMemberDto,
  AdminCreateRoomDto,
  AdminRoomListQuery,
  AdminRoomListResponse,
  AdminSendRoomMessageDto,
  ConfigureRoomDto,
  RoomDetailsResponse,
  RoomIdResponse,
  RoomMessageResponse,
} from '#src/rooms/dto/rooms.dto.js';
import { RoomMembersService } from '#src/rooms/room-members.service.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import { toAdminListing, toDetails } from '#src/rooms/room-responses.js';
import { parseRoomId } from '#src/rooms/room-rules.js';
import { RoomsService } from '#src/rooms/rooms.service.js';

const NOT_FOUND = ApiResponse({
  status: 404,
  description: '`room-not-found`',
  type: ProblemResponse,
});

/** Rooms for support and backends: an administrator acts as an owner of every room. */
@ApiTags('admin: rooms')
@AdminAuth()
@Controller('api/admin/rooms')
export class AdminRoomsController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly members: RoomMembersService,
    private readonly messages: RoomMessagesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'A domain’s rooms by id, a page at a time' })
  @ApiOkResponse({ type: AdminRoomListResponse })
  @ApiResponse({ status: 404, description: 'The domain is not served', type: ProblemResponse })
  async list(@Query() query: AdminRoomListQuery): Promise<AdminRoomListResponse> {
    const page = await this.rooms.listDomain(query.domain, query.limit ?? 100, query.after);

    return {
      rooms: page.rooms.map(toAdminListing),
      ...(page.next === undefined ? {} : { next: page.next }),
    };
  }

  @Post()
  @ApiOperation({ summary: 'Create a room for a user, who becomes its owner' })
  @ApiCreatedResponse({ type: RoomIdResponse })
  @ApiResponse({ status: 400, description: 'Invalid fields', type: ProblemResponse })
  @ApiResponse({ status: 404, description: 'The owner does not exist', type: ProblemResponse })
  @ApiResponse({
    status: 409,
    description: '`room-exists`, `room-limit-reached`',
    type: ProblemResponse,
  })
  async create(@Body() dto: AdminCreateRoomDto): Promise<RoomIdResponse> {
    const owner = await this.members.existingUser(parseUserAddress(dto.owner, 'owner'), 'owner');
    const room = {
      name: dto.name,
      ...(dto.subject === undefined ? {} : { subject: dto.subject }),
      ...(dto.settings === undefined ? {} : { settings: dto.settings }),
      ...(dto.id === undefined ? {} : { id: parseRoomId(dto.id) }),
    };
    const created = await this.rooms.create(owner, room, null);

    return { id: created.id };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A room with its participants' })
  @ApiOkResponse({ type: RoomDetailsResponse })
  @NOT_FOUND
  async details(@Param('id') id: string): Promise<RoomDetailsResponse> {
    return toDetails(await this.rooms.details(parseRoomId(id), null));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Destroy a room with its archive' })
  @ApiNoContentResponse()
  @NOT_FOUND
  async destroy(@Param('id') id: string): Promise<void> {
    await this.rooms.destroy(parseRoomId(id), null);
  }

  @Put(':id/config')
  @ApiOperation({ summary: 'Change the name, subject or settings' })
  @ApiOkResponse({ type: RoomDetailsResponse })
  @NOT_FOUND
  async configure(
    @Param('id') id: string,
    @Body() dto: ConfigureRoomDto,
  ): Promise<RoomDetailsResponse> {
    return toDetails(await this.rooms.configure(parseRoomId(id), null, dto));
  }

  @Post(':id/users')
  @HttpCode(204)
  @ApiOperation({ summary: 'Add a member (or an owner)' })
  @ApiNoContentResponse()
  @ApiResponse({
    status: 404,
    description: '`room-not-found`, `user-not-found`',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 409,
    description: '`room-member-exists`, `room-full`, `room-limit-reached`',
    type: ProblemResponse,
  })
  async addMember(@Param('id') id: string, @Body() dto: AddRoomMemberDto): Promise<void> {
    await this.members.add(parseRoomId(id), null, dto.user, dto.role ?? 'member');
  }

  @Delete(':id/users/:user')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a member; ownership and empty rooms as when a member leaves' })
  @ApiNoContentResponse()
  @ApiResponse({
    status: 404,
    description: '`room-not-found`, `room-member-not-found`',
    type: ProblemResponse,
  })
  async removeMember(@Param('id') id: string, @Param('user') member: string): Promise<void> {
    await this.members.remove(parseRoomId(id), null, member);
  }

  @Post(':id/messages')
  @HttpCode(200)
  @ApiOperation({ summary: 'Post to a room as one of its members' })
  @ApiOkResponse({ type: RoomIdResponse })
  @ApiResponse({
    status: 404,
    description: '`room-not-found`, or `room-member-not-found` for `from`',
    type: ProblemResponse,
  })
  async send(
    @Param('id') id: string,
    @Body() dto: AdminSendRoomMessageDto,
  ): Promise<RoomIdResponse> {
    const result = await this.messages.send({
      roomId: parseRoomId(id),
      sender: parseUserAddress(dto.from, 'from'),
      body: requiredBody(dto.body),
      source: 'admin',
      ...(dto.reply_to === undefined ? {} : { replyTo: dto.reply_to }),
      ...(dto.thread === undefined ? {} : { thread: dto.thread }),
      ...(dto.client_id === undefined ? {} : { clientId: dto.client_id }),
    });

    return { id: result.id };
  }

  @Get(':id/messages')
  @ApiOperation({ summary: 'Read a room’s archive; same paging as the client API' })
  @ApiOkResponse({ type: [RoomMessageResponse] })
  @NOT_FOUND
  archive(@Param('id') id: string, @Query() query: ArchivePageQuery): Promise<RoomMessageView[]> {
    return this.messages.page(parseRoomId(id), null, query);
  }
}

/** An administrator posts messages, not markers: the body is required. */
function requiredBody(body: string | undefined): string {
  if (body === undefined) {
    throw new AppError('validation', {
      detail: 'body is required',
      fields: [{ name: 'body', reason: 'required' }],
    });
  }

  return body;
}
