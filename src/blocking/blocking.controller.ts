import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import type { BlockView } from '#src/blocking/block-view.js';
import { BlockDto, BlockResponse, UnblockAllResponse } from '#src/blocking/dto/blocking.dto.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';

@ApiTags('blocking')
@UserAuth()
@Controller('api/blocking')
export class BlockingController {
  constructor(private readonly blocking: BlockingService) {}

  @Get()
  @ApiOperation({ summary: 'The user’s blocklist, by JID' })
  @ApiOkResponse({ type: [BlockResponse] })
  list(@CurrentUser() user: AuthenticatedUser): Promise<BlockView[]> {
    return this.blocking.list(user);
  }

  @Post()
  @ApiOperation({
    summary: 'Block a JID or a domain',
    description:
      'Nothing from it reaches the user any more (messages, presence, typing, subscription requests), ' +
      'and it sees the user as offline; it is not told. 201 when added, 200 when it was blocked already.',
  })
  @ApiCreatedResponse({ type: BlockResponse })
  @ApiOkResponse({ type: BlockResponse, description: 'Blocked already' })
  @ApiResponse({ status: 400, description: 'Not a JID, or the user’s own', type: ProblemResponse })
  @ApiResponse({
    status: 409,
    description: 'The blocklist holds BLOCKS_MAX_PER_USER items',
    type: ProblemResponse,
  })
  async block(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: BlockDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<BlockView> {
    const { view, created } = await this.blocking.block(user, dto.jid);
    response.status(created ? 201 : 200);

    return view;
  }

  @Delete()
  @ApiOperation({ summary: 'Unblock everything' })
  @ApiOkResponse({ type: UnblockAllResponse })
  async unblockAll(@CurrentUser() user: AuthenticatedUser): Promise<UnblockAllResponse> {
    return { unblocked: await this.blocking.unblockAll(user) };
  }

  @Delete(':jid')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unblock a JID or a domain; 204 also when it was not blocked' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 400, description: 'Not a JID', type: ProblemResponse })
  async unblock(@CurrentUser() user: AuthenticatedUser, @Param('jid') jid: string): Promise<void> {
    await this.blocking.unblock(user, jid);
  }
}
