import { Controller, Delete, Get, HttpCode, Param } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import { parseDomainName } from '#src/accounts/domains.service.js';
import { parseUserAddress } from '#src/accounts/users.service.js';
import { AdminAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import { RouterService } from '#src/routing/router.service.js';
import type { SessionInfo } from '#src/routing/session.js';

class SessionResponse {
  @ApiProperty()
  id: string;

  @ApiProperty({ description: 'Full JID of the session', example: 'alice@localhost/phone' })
  jid: string;

  @ApiProperty({ enum: ['socket.io', 'sse'] })
  transport: string;

  @ApiProperty({ description: 'The server node holding the session' })
  node: string;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  connected_at: string;

  @ApiPropertyOptional({ example: '127.0.0.1' })
  address?: string;
}

@ApiTags('admin: sessions')
@AdminAuth()
@Controller('api/admin/sessions')
export class AdminSessionsController {
  constructor(private readonly router: RouterService) {}

  @Get(':domain')
  @ApiOperation({ summary: 'Online sessions of a domain, on every node' })
  @ApiOkResponse({ type: [SessionResponse] })
  async ofDomain(@Param('domain') domain: string): Promise<SessionResponse[]> {
    return (await this.router.sessionsOfDomain(parseDomainName(domain))).map(toResponse);
  }

  @Get(':domain/:username')
  @ApiOperation({ summary: 'Online sessions of one user' })
  @ApiOkResponse({ type: [SessionResponse] })
  async ofUser(
    @Param('domain') domain: string,
    @Param('username') username: string,
  ): Promise<SessionResponse[]> {
    return (
      await this.router.sessionsOf(parseUserAddress(`${username}@${domain}`, 'username'))
    ).map(toResponse);
  }

  @Delete(':domain/:username/:session')
  @HttpCode(204)
  @ApiOperation({ summary: 'Kick one session; the client is told why and disconnected' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 404, description: 'No such session of this user', type: ProblemResponse })
  async kick(
    @Param('domain') domain: string,
    @Param('username') username: string,
    @Param('session') sessionId: string,
  ): Promise<void> {
    const jid = parseUserAddress(`${username}@${domain}`, 'username');
    const owned = (await this.router.sessionsOf(jid)).some((session) => session.id === sessionId);
    if (!owned || !(await this.router.kick(sessionId, 'kicked by an administrator'))) {
      throw new AppError('session-not-found', {
        detail: `no session ${sessionId} of ${jid} is online`,
      });
    }
  }
}

function toResponse(session: SessionInfo): SessionResponse {
  return {
    id: session.id,
    jid: `${session.jid}/${session.resource}`,
    transport: session.transport,
    node: session.node,
    connected_at: new Date(session.connectedAt).toISOString(),
    ...(session.address === undefined ? {} : { address: session.address }),
  };
}
