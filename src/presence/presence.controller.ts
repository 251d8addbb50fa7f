import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import { parseUserAddress } from '#src/accounts/users.service.js';
import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import {
  LastActivityResponse,
  PresenceResponse,
  SetPresenceDto,
  TypingDto,
} from '#src/presence/dto/presence.dto.js';
import type { PresenceView } from '#src/presence/presence-view.js';
import { PresenceService, type LastActivityView } from '#src/presence/presence.service.js';
import { TypingService } from '#src/presence/typing.service.js';

@ApiTags('presence')
@UserAuth()
@Controller('api')
export class PresenceController {
  constructor(
    private readonly presence: PresenceService,
    private readonly typing: TypingService,
  ) {}

  @Put('presence')
  @ApiOperation({
    summary:
      'Set availability and status of one session, or of all the user’s socket.io and SSE sessions',
    description:
      'Broadcast to the user’s sessions and to the contacts subscribed to the user (from or both).',
  })
  @ApiOkResponse({ type: PresenceResponse, description: 'The user’s presence now' })
  @ApiResponse({ status: 400, description: 'Invalid fields', type: ProblemResponse })
  @ApiResponse({ status: 404, description: 'No such session of the user', type: ProblemResponse })
  @ApiResponse({
    status: 409,
    description: 'The user has no session online',
    type: ProblemResponse,
  })
  set(@CurrentUser() user: AuthenticatedUser, @Body() dto: SetPresenceDto): Promise<PresenceView> {
    return this.presence.set(
      user,
      { show: dto.show, ...(dto.status === undefined ? {} : { status: dto.status }) },
      dto.session,
    );
  }

  @Get('presence')
  @ApiOperation({ summary: 'The presence of every contact whose presence the user receives' })
  @ApiOkResponse({ type: [PresenceResponse] })
  contacts(@CurrentUser() user: AuthenticatedUser): Promise<PresenceView[]> {
    return this.presence.contactsOf(user);
  }

  @Get('contacts/:jid/last-activity')
  @ApiOperation({
    summary: 'When a contact was last online (XEP-0012)',
    description: 'Only for contacts whose presence the user receives, and for the user’s own JID.',
  })
  @ApiOkResponse({ type: LastActivityResponse })
  @ApiResponse({ status: 400, description: 'The JID is malformed', type: ProblemResponse })
  @ApiResponse({
    status: 403,
    description: 'The user does not receive this JID’s presence (also when it does not exist)',
    type: ProblemResponse,
  })
  lastActivity(
    @CurrentUser() user: AuthenticatedUser,
    @Param('jid') jid: string,
  ): Promise<LastActivityView> {
    return this.presence.lastActivity(user, parseUserAddress(jid, 'jid'));
  }

  @Post('typing')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Tell a peer the user is typing (composing) or stopped (paused)',
    description: 'Real time only: delivered to the peer’s online sessions, never stored.',
  })
  @ApiNoContentResponse()
  @ApiResponse({ status: 400, description: 'Invalid fields', type: ProblemResponse })
  @ApiResponse({ status: 409, description: 'The user blocks the peer', type: ProblemResponse })
  async notifyTyping(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: TypingDto,
  ): Promise<void> {
    await this.typing.notify(user, dto.to, dto.state);
  }
}
