import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';

import { parseUserAddress } from '#src/accounts/users.service.js';
import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { ArchivePageQuery } from '#src/common/paging.js';
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
    const clientId = dto.client_id ?? idempotencyKeyOf(request);
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

/** Visible ASCII and inner spaces: header bytes outside it arrive as Latin-1 and would not round-trip. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]([\x20-\x7e]{0,126}[\x21-\x7e])?$/;

function idempotencyKeyOf(request: Request): string | undefined {
  const values = request.headersDistinct['idempotency-key'];
  if (values === undefined) {
    return undefined;
  }
  // Repeated headers reach us joined by commas, so a comma cannot be part of a key.
  if (values.length !== 1 || !IDEMPOTENCY_KEY.test(values[0]!) || values[0]!.includes(',')) {
    throw new AppError('validation', {
      detail: 'give one Idempotency-Key of 1 to 128 visible ASCII characters, without commas',
      fields: [
        {
          name: 'header.idempotency-key',
          reason: 'one value, 1 to 128 visible ASCII characters, no comma',
        },
      ],
    });
  }

  return values[0];
}
