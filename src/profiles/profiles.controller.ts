import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
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
import { ProfileDto, ProfileResponse } from '#src/profiles/dto/profile.dto.js';
import type { ProfileView } from '#src/profiles/profile-view.js';
import { ProfilesService } from '#src/profiles/profiles.service.js';

@ApiTags('profiles')
@UserAuth()
@Controller('api')
export class ProfilesController {
  constructor(private readonly profiles: ProfilesService) {}

  @Get('profile')
  @ApiOperation({
    summary: 'The user’s own profile',
    description: 'The same data XMPP clients see as the user’s vCard (XEP-0054).',
  })
  @ApiOkResponse({ type: ProfileResponse })
  own(@CurrentUser() user: AuthenticatedUser): Promise<ProfileView> {
    return this.profiles.own(user);
  }

  @Put('profile')
  @ApiOperation({
    summary: 'Replace the user’s profile',
    description: 'Fields left out or null are cleared. XMPP clients see it as the vCard.',
  })
  @ApiOkResponse({ type: ProfileResponse })
  @ApiResponse({
    status: 400,
    description: 'A field is invalid or too long',
    type: ProblemResponse,
  })
  replace(
    @CurrentUser() user: AuthenticatedUser,
    @Body() profile: ProfileDto,
  ): Promise<ProfileView> {
    return this.profiles.replace(user, profile);
  }

  @Delete('profile')
  @HttpCode(204)
  @ApiOperation({ summary: 'Clear the user’s profile' })
  @ApiNoContentResponse()
  async clear(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    await this.profiles.clear(user);
  }

  @Get('users/:jid/profile')
  @ApiOperation({ summary: 'Another user’s profile' })
  @ApiOkResponse({ type: ProfileResponse })
  @ApiResponse({ status: 400, description: 'The JID is malformed', type: ProblemResponse })
  @ApiResponse({
    status: 404,
    description: 'No such user (also when the user blocks the caller)',
    type: ProblemResponse,
  })
  of(@CurrentUser() user: AuthenticatedUser, @Param('jid') jid: string): Promise<ProfileView> {
    return this.profiles.of(user, parseUserAddress(jid, 'jid'));
  }
}
