import { Body, Controller, Delete, HttpCode, Post } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { RefreshTokenDto, RevokeTokenDto, TokenResponse } from '#src/auth/dto/tokens.dto.js';
import { PasswordAuth, UserAuth } from '#src/auth/guards.js';
import { IssuedTokens, TokensService } from '#src/auth/tokens.service.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';

@ApiTags('tokens')
@Controller('api/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @HttpCode(200)
  @PasswordAuth()
  @ApiOperation({ summary: 'Issue an access and a refresh token for Basic credentials' })
  @ApiOkResponse({ type: TokenResponse })
  async issue(@CurrentUser() user: AuthenticatedUser): Promise<TokenResponse> {
    return toResponse(await this.tokens.issue(user));
  }

  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a refresh token for a new pair; the old pair stops working' })
  @ApiOkResponse({ type: TokenResponse })
  @ApiResponse({
    status: 401,
    description: 'The refresh token is unknown, expired or used',
    type: ProblemResponse,
  })
  async refresh(@Body() dto: RefreshTokenDto): Promise<TokenResponse> {
    return toResponse(await this.tokens.refresh(dto.refresh_token));
  }

  @Post('revoke')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revoke the pair a token belongs to (RFC 7009 semantics: unknown tokens are ignored)',
  })
  @ApiNoContentResponse()
  async revoke(@Body() dto: RevokeTokenDto): Promise<void> {
    await this.tokens.revoke(dto.token);
  }

  @Delete()
  @HttpCode(204)
  @UserAuth()
  @ApiOperation({
    summary: 'Revoke every token of the user and end their sessions (log out everywhere)',
  })
  @ApiNoContentResponse()
  async revokeAll(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    await this.tokens.revokeAllOf(user);
  }
}

function toResponse(issued: IssuedTokens): TokenResponse {
  return {
    access_token: issued.accessToken,
    refresh_token: issued.refreshToken,
    expires_in: issued.expiresIn,
    refresh_expires_in: issued.refreshExpiresIn,
    token_type: 'Bearer',
  };
}
