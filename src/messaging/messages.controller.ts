import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Query,
  Req,
} from '@nestjs/common';
import type { Request } from 'express';
import {
  ApiExtraModels,
  getSchemaPath,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import { parseUserAddress } from '#src/accounts/users.service.js';
import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { ArchivePageQuery } from '#src/common/paging.js';
import { MessageMarkersResponse } from '#src/inbox/dto/inbox.dto.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { clientSendCommand } from '#src/messaging/client-send.js';
import {
  EditMessageDto,
  MarkerDto,
  MessageResponse,
  SendMessageDto,
  SentMessageResponse,
  ThreadPageQuery,
} from '#src/messaging/dto/send-message.dto.js';
import { MarkersService, type MessageMarkers } from '#src/messaging/markers.service.js';
import { MessageOperationsService } from '#src/messaging/message-operations.service.js';
import { RoomMessageResponse } from '#src/rooms/dto/rooms.dto.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import type { MessageView } from '#src/messaging/message-view.js';
import { MessagesService } from '#src/messaging/messages.service.js';

/** A message id in a path; anything else is a 400 naming the parameter. */
const MESSAGE_ID = new ParseUUIDPipe({
  version: '7',
  exceptionFactory: () =>
    new AppError('validation', {
      detail: 'id is a message id (UUIDv7)',
      fields: [{ name: 'id', reason: 'must be a UUIDv7' }],
    }),
});

@ApiTags('messages')
@UserAuth()
@Controller('api/messages')
export class MessagesController {
  constructor(
    private readonly messages: MessagesService,
    private readonly archive: ArchiveService,
    private readonly operations: MessageOperationsService,
    private readonly markers: MarkersService,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a one-to-one message',
    description: 'Returns once the message is committed to both archives.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retry with the same key returns the first result',
  })
  @ApiOkResponse({ type: SentMessageResponse })
  @ApiResponse({
    status: 400,
    description: 'Invalid fields or recipient JID',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 404,
    description:
      'The recipient does not exist, or `reply_to` is not a message of this conversation',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 413,
    description: 'The body is over the message size limit',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 422,
    description: 'The idempotency key was used before for a different message',
    type: ProblemResponse,
  })
  async send(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: SendMessageDto,
    @Req() request: Request,
  ): Promise<SentMessageResponse> {
    const result = await this.messages.send(clientSendCommand(user, dto, request));

    return { id: result.id };
  }

  @Get()
  @ApiOperation({ summary: 'The user’s recent messages with anyone, oldest first' })
  @ApiOkResponse({ type: [MessageResponse] })
  recent(
    @CurrentUser() user: AuthenticatedUser,
    @Query() query: ArchivePageQuery,
  ): Promise<MessageView[]> {
    return this.archive.page(user, query);
  }

  @Get(':with')
  @ApiOperation({
    summary: 'The archive of the conversation with one user, oldest first',
    description: 'With `thread`, only that thread’s messages.',
  })
  @ApiOkResponse({ type: [MessageResponse] })
  @ApiResponse({ status: 400, description: 'The JID is malformed', type: ProblemResponse })
  conversation(
    @CurrentUser() user: AuthenticatedUser,
    @Param('with') peer: string,
    @Query() query: ThreadPageQuery,
  ): Promise<MessageView[]> {
    const { thread, ...page } = query;

    return this.archive.page(user, page, {
      peer: parseUserAddress(peer, 'with'),
      ...(thread === undefined ? {} : { thread }),
    });
  }

  @Put(':id')
  @ApiOperation({
    summary: 'Correct a message you sent, one-to-one or in a room',
    description:
      'Keeps the id, stores the earlier body as a revision, and delivers `message:edited` to both participants (`room:message:edited` to every member of a room). ' +
      'Answers the message as its archive now shows it: the one-to-one shape, or the room entry shape.',
  })
  @ApiExtraModels(MessageResponse, RoomMessageResponse)
  @ApiOkResponse({
    schema: {
      oneOf: [
        { $ref: getSchemaPath(MessageResponse) },
        { $ref: getSchemaPath(RoomMessageResponse) },
      ],
    },
  })
  @ApiResponse({ status: 403, description: 'You are not the author', type: ProblemResponse })
  @ApiResponse({
    status: 404,
    description: 'No such message in your archive',
    type: ProblemResponse,
  })
  @ApiResponse({ status: 409, description: 'The message was retracted', type: ProblemResponse })
  edit(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', MESSAGE_ID) id: string,
    @Body() dto: EditMessageDto,
  ): Promise<MessageView | RoomMessageView> {
    return this.operations.edit(user, id, dto.body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Retract a message you sent',
    description:
      'Both archives keep the id with an empty body and `retracted_at`; revisions and reactions go. Repeating it is harmless.',
  })
  @ApiResponse({ status: 204, description: 'Retracted' })
  @ApiResponse({ status: 403, description: 'You are not the author', type: ProblemResponse })
  @ApiResponse({
    status: 404,
    description: 'No such message in your archive',
    type: ProblemResponse,
  })
  async retract(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', MESSAGE_ID) id: string,
  ): Promise<void> {
    await this.operations.retract(user, id);
  }

  @Put(':id/reactions/:emoji')
  @HttpCode(204)
  @ApiOperation({ summary: 'React to a message with an emoji (URL-encoded)' })
  @ApiResponse({ status: 204, description: 'The reaction is there' })
  @ApiResponse({ status: 400, description: 'Not an emoji', type: ProblemResponse })
  @ApiResponse({
    status: 404,
    description: 'No such message in your archive',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 409,
    description: 'Retracted, or too many different reactions',
    type: ProblemResponse,
  })
  async react(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', MESSAGE_ID) id: string,
    @Param('emoji') emoji: string,
  ): Promise<void> {
    await this.operations.react(user, id, emoji, true);
  }

  @Delete(':id/reactions/:emoji')
  @HttpCode(204)
  @ApiOperation({ summary: 'Take back a reaction' })
  @ApiResponse({ status: 204, description: 'The reaction is gone' })
  @ApiResponse({
    status: 404,
    description: 'No such message in your archive',
    type: ProblemResponse,
  })
  async unreact(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', MESSAGE_ID) id: string,
    @Param('emoji') emoji: string,
  ): Promise<void> {
    await this.operations.react(user, id, emoji, false);
  }

  @Post(':id/markers')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Mark a message (and all before it) received, displayed or acknowledged',
    description:
      'XEP-0333 semantics. The other participant’s sessions get a `marker` event; displayed resets your unread count to the messages after this one.',
  })
  @ApiResponse({ status: 204, description: 'Stored (a marker behind the stored one is ignored)' })
  @ApiResponse({
    status: 404,
    description: 'No such message in your archive',
    type: ProblemResponse,
  })
  async mark(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', MESSAGE_ID) id: string,
    @Body() dto: MarkerDto,
  ): Promise<void> {
    await this.markers.mark(user, id, dto.type);
  }

  @Get(':id/markers')
  @ApiOperation({ summary: 'Who has received, displayed and acknowledged a message' })
  @ApiOkResponse({ type: MessageMarkersResponse })
  @ApiResponse({
    status: 404,
    description: 'No such message in your archive',
    type: ProblemResponse,
  })
  markersOf(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', MESSAGE_ID) id: string,
  ): Promise<MessageMarkers> {
    return this.markers.ofMessage(user, id);
  }
}
