import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';

import { parseUserAddress, UsersService } from '#src/accounts/users.service.js';
import { AdminAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { ArchivePageQuery } from '#src/common/paging.js';
import { AppConfig } from '#src/config/app-config.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import {
  AdminSendMessageDto,
  MessageResponse,
  SentMessageResponse,
} from '#src/messaging/dto/send-message.dto.js';
import type { MessageView } from '#src/messaging/message-view.js';
import { MessagesService } from '#src/messaging/messages.service.js';

@ApiTags('admin: messages')
@AdminAuth()
@Controller('api/admin')
export class AdminMessagesController {
  constructor(
    private readonly messages: MessagesService,
    private readonly archive: ArchiveService,
    private readonly users: UsersService,
    private readonly config: AppConfig,
  ) {}

  @Post('messages')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a message as any user, or as the system sender',
    description: 'Travels exactly as if the sender had sent it: both archives and live delivery.',
  })
  @ApiOkResponse({ type: SentMessageResponse })
  @ApiResponse({
    status: 400,
    description: 'Invalid fields, or no sender and no SYSTEM_SENDER',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 404,
    description: 'The sender or recipient does not exist',
    type: ProblemResponse,
  })
  async send(@Body() dto: AdminSendMessageDto): Promise<SentMessageResponse> {
    const result = await this.messages.send({
      sender: await this.resolveSender(dto.from),
      to: dto.to,
      body: dto.body,
      source: 'admin',
      ...(dto.client_id === undefined ? {} : { clientId: dto.client_id }),
    });

    return { id: result.id };
  }

  @Get('messages/:user')
  @ApiOperation({
    summary: 'Read a user’s archive (for support tools); same paging as the client API',
  })
  @ApiOkResponse({ type: [MessageResponse] })
  async userArchive(
    @Param('user') user: string,
    @Query() query: ArchivePageQuery,
  ): Promise<MessageView[]> {
    return this.archive.page(await this.existingUser(user, 'user'), query);
  }

  @Get('messages/:user/:with')
  @ApiOperation({ summary: 'Read one conversation of a user’s archive' })
  @ApiOkResponse({ type: [MessageResponse] })
  async conversation(
    @Param('user') user: string,
    @Param('with') peer: string,
    @Query() query: ArchivePageQuery,
  ): Promise<MessageView[]> {
    return this.archive.page(await this.existingUser(user, 'user'), query, {
      peer: parseUserAddress(peer, 'with'),
    });
  }

  private async resolveSender(from: string | undefined) {
    const jid = from ?? this.config.systemSender;
    if (jid === undefined) {
      throw new AppError('validation', {
        detail: 'give `from`, or configure SYSTEM_SENDER',
        fields: [{ name: 'from', reason: 'required when SYSTEM_SENDER is not set' }],
      });
    }
    if (from === undefined) {
      // The system sender may or may not be an account; when it is, its archive keeps a copy.
      const normalized = parseUserAddress(jid, 'from');

      return (await this.users.findByJid(normalized)) ?? { id: null, jid: normalized };
    }

    return this.existingUser(from, 'from');
  }

  private async existingUser(value: string, field: string) {
    const jid = parseUserAddress(value, field);
    const user = await this.users.findByJid(jid);
    if (user === undefined) {
      throw new AppError('user-not-found', {
        detail: `${jid} does not exist`,
        fields: [{ name: field, reason: 'no such user' }],
      });
    }

    return user;
  }
}
