import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';

import { UsersService } from '#src/accounts/users.service.js';
import { AdminAuth } from '#src/auth/guards.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import type { ContactView } from '#src/contacts/contact-view.js';
import { ContactResponse } from '#src/contacts/dto/contacts.dto.js';
import { RosterService } from '#src/contacts/roster.service.js';

@ApiTags('admin: contacts')
@AdminAuth()
@Controller('api/admin/users/:domain/:username/contacts')
export class AdminContactsController {
  constructor(
    private readonly users: UsersService,
    private readonly roster: RosterService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Read a user’s roster' })
  @ApiOkResponse({ type: [ContactResponse] })
  @ApiResponse({ status: 404, description: 'No such user', type: ProblemResponse })
  async list(
    @Param('domain') domain: string,
    @Param('username') username: string,
  ): Promise<ContactView[]> {
    const user = await this.users.get(domain, username);

    return this.roster.list({
      id: user.id,
      jid: user.jid,
      credentialVersion: user.credentialVersion,
    });
  }
}
