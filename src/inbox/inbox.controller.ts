import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import {
  CONVERSATION_KINDS,
  InboxEntryResponse,
  InboxFlagsDto,
  InboxQuery,
  ParticipantMarkersResponse,
  UnreadTotalResponse,
} from '#src/inbox/dto/inbox.dto.js';
import type { InboxEntryView } from '#src/inbox/inbox-view.js';
import { InboxService, type UnreadTotal } from '#src/inbox/inbox.service.js';
import { MarkersService, type ParticipantMarkers } from '#src/messaging/markers.service.js';
import type { ConversationKind } from '#src/messaging/message-view.js';

const KIND_PARAM = { name: 'type', enum: CONVERSATION_KINDS } as const;
const ID_PARAM = {
  name: 'id',
  description: 'The peer’s bare JID for a chat, the room id for a room',
};

@ApiTags('inbox')
@UserAuth()
@Controller('api/inbox')
export class InboxController {
  constructor(
    private readonly inbox: InboxService,
    private readonly markers: MarkersService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The user’s conversations, newest activity first',
    description:
      'Each with its last message, unread count and flags. Page with `before_id` set to the last entry’s `last_message.id`.',
  })
  @ApiOkResponse({ type: [InboxEntryResponse] })
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Query() query: InboxQuery,
  ): Promise<InboxEntryView[]> {
    return this.inbox.list(user, query);
  }

  @Get('unread')
  @ApiOperation({ summary: 'Total unread messages, for a badge' })
  @ApiOkResponse({ type: UnreadTotalResponse })
  unread(@CurrentUser() user: AuthenticatedUser): Promise<UnreadTotal> {
    return this.inbox.unreadTotal(user);
  }

  @Get(':type/:id')
  @ApiOperation({ summary: 'One conversation’s inbox entry' })
  @ApiParam(KIND_PARAM)
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: InboxEntryResponse })
  @ApiResponse({ status: 404, description: 'Not in the inbox', type: ProblemResponse })
  get(
    @CurrentUser() user: AuthenticatedUser,
    @Param('type') type: string,
    @Param('id') id: string,
  ): Promise<InboxEntryView> {
    return this.inbox.get(user, kindOf(type), id);
  }

  @Put(':type/:id')
  @ApiOperation({ summary: 'Mute, archive or pin a conversation' })
  @ApiParam(KIND_PARAM)
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: InboxEntryResponse })
  @ApiResponse({ status: 404, description: 'Not in the inbox', type: ProblemResponse })
  setFlags(
    @CurrentUser() user: AuthenticatedUser,
    @Param('type') type: string,
    @Param('id') id: string,
    @Body() flags: InboxFlagsDto,
  ): Promise<InboxEntryView> {
    return this.inbox.setFlags(user, kindOf(type), id, flags);
  }

  @Post(':type/:id/reset')
  @HttpCode(200)
  @ApiOperation({ summary: 'Set the unread count to zero' })
  @ApiParam(KIND_PARAM)
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: InboxEntryResponse })
  @ApiResponse({ status: 404, description: 'Not in the inbox', type: ProblemResponse })
  reset(
    @CurrentUser() user: AuthenticatedUser,
    @Param('type') type: string,
    @Param('id') id: string,
  ): Promise<InboxEntryView> {
    return this.inbox.reset(user, kindOf(type), id);
  }

  @Get(':type/:id/markers')
  @ApiOperation({
    summary: 'How far each participant has received, displayed and acknowledged the conversation',
  })
  @ApiParam(KIND_PARAM)
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: [ParticipantMarkersResponse] })
  async markersOf(
    @CurrentUser() user: AuthenticatedUser,
    @Param('type') type: string,
    @Param('id') id: string,
  ): Promise<ParticipantMarkers[]> {
    const kind = kindOf(type);
    if (kind === 'chat') {
      // A chat is the user's once a message was exchanged; a room checks membership itself.
      await this.inbox.get(user, kind, id);
    }

    return this.markers.ofConversation(user, kind, id);
  }
}

function kindOf(type: string): ConversationKind {
  if (!(CONVERSATION_KINDS as readonly string[]).includes(type)) {
    throw new AppError('validation', {
      detail: 'type is chat or room',
      fields: [{ name: 'type', reason: 'must be chat or room' }],
    });
  }

  return type as ConversationKind;
}
