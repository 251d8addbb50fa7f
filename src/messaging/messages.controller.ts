import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';

import { parseUserAddress } from '#src/accounts/users.service.js';
import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { ArchivePageQuery } from '#src/common/paging.js';
import { isXmlSafe } from '#src/common/xml-text.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import {
  MessageResponse,
  SendMessageDto,
  SentMessageResponse,
} from '#src/messaging/dto/send-message.dto.js';
import type { MessageView } from '#src/messaging/message-view.js';
import { MessagesService } from '#src/messaging/messages.service.js';

@ApiTags('messages')
@UserAuth()
@Controller('api/messages')
export class MessagesController {
  constructor(
    private readonly messages: MessagesService,
    private readonly archive: ArchiveService,
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
  @ApiResponse({ status: 404, description: 'The recipient does not exist', type: ProblemResponse })
  @ApiResponse({
    status: 413,
    description: 'The body is over the message size limit',
    type: ProblemResponse,
  })
  async send(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: SendMessageDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<SentMessageResponse> {
    const clientId = dto.client_id ?? validIdempotencyKey(idempotencyKey);
    const result = await this.messages.send({
      sender: user,
      to: dto.to,
      body: dto.body,
      source: 'client',
      ...(clientId === undefined ? {} : { clientId }),
    });

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
  @ApiOperation({ summary: 'The archive of the conversation with one user, oldest first' })
  @ApiOkResponse({ type: [MessageResponse] })
  @ApiResponse({ status: 400, description: 'The JID is malformed', type: ProblemResponse })
  conversation(
    @CurrentUser() user: AuthenticatedUser,
    @Param('with') peer: string,
    @Query() query: ArchivePageQuery,
  ): Promise<MessageView[]> {
    return this.archive.page(user, query, parseUserAddress(peer, 'with'));
  }
}

function validIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) {
    return undefined;
  }
  if (key.length === 0 || key.length > 128 || !isXmlSafe(key)) {
    throw new AppError('validation', {
      detail: 'Idempotency-Key must be 1 to 128 characters',
      fields: [{ name: 'header.idempotency-key', reason: 'must be 1 to 128 printable characters' }],
    });
  }

  return key;
}
