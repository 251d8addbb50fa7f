import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import {
  ChangePasswordDto,
  CountResponse,
  RegisterUserDto,
  UserListQuery,
  UserListResponse,
  UserResponse,
} from '#src/accounts/dto/users.dto.js';
import type { UserEntity } from '#src/accounts/user.entity.js';
import { UsersService } from '#src/accounts/users.service.js';
import { AdminAuth } from '#src/auth/guards.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';

@ApiTags('admin: users')
@AdminAuth()
@Controller('api/admin/users/:domain')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiOperation({ summary: 'Register a user' })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiResponse({ status: 400, description: 'Invalid username or password', type: ProblemResponse })
  @ApiResponse({ status: 404, description: 'The domain is not served', type: ProblemResponse })
  @ApiResponse({ status: 409, description: 'The user exists', type: ProblemResponse })
  async register(
    @Param('domain') domain: string,
    @Body() dto: RegisterUserDto,
  ): Promise<UserResponse> {
    return toResponse(await this.users.register(domain, dto.username, dto.password));
  }

  @Get()
  @ApiOperation({ summary: 'List users of a domain, by username' })
  @ApiOkResponse({ type: UserListResponse })
  async list(
    @Param('domain') domain: string,
    @Query() query: UserListQuery,
  ): Promise<UserListResponse> {
    const page = await this.users.list(domain, query.limit ?? 100, query.after);

    return {
      users: page.users.map(toResponse),
      ...(page.nextCursor === undefined ? {} : { next: page.nextCursor }),
    };
  }

  @Get('count')
  @ApiOperation({ summary: 'Count users of a domain' })
  @ApiOkResponse({ type: CountResponse })
  async count(@Param('domain') domain: string): Promise<CountResponse> {
    return { count: await this.users.count(domain) };
  }

  @Get(':username')
  @ApiOperation({ summary: 'Check that a user exists' })
  @ApiOkResponse({ type: UserResponse })
  @ApiResponse({ status: 404, description: 'No such user', type: ProblemResponse })
  async get(
    @Param('domain') domain: string,
    @Param('username') username: string,
  ): Promise<UserResponse> {
    return toResponse(await this.users.get(domain, username));
  }

  @Put(':username')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Change a user’s password; revokes their tokens and ends their sessions',
  })
  @ApiNoContentResponse()
  @ApiResponse({ status: 404, description: 'No such user', type: ProblemResponse })
  async changePassword(
    @Param('domain') domain: string,
    @Param('username') username: string,
    @Body() dto: ChangePasswordDto,
  ): Promise<void> {
    await this.users.changePassword(domain, username, dto.password);
  }

  @Delete(':username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user with their archive and tokens' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 404, description: 'No such user', type: ProblemResponse })
  async delete(
    @Param('domain') domain: string,
    @Param('username') username: string,
  ): Promise<void> {
    await this.users.delete(domain, username);
  }
}

function toResponse(user: UserEntity): UserResponse {
  return { jid: user.jid, created_at: user.createdAt.toISOString() };
}
