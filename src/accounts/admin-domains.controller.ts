import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import type { DomainEntity } from '#src/accounts/domain.entity.js';
import { DomainsService } from '#src/accounts/domains.service.js';
import { AddDomainDto, DomainResponse, UpdateDomainDto } from '#src/accounts/dto/domains.dto.js';
import { AdminAuth } from '#src/auth/guards.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';

@ApiTags('admin: domains')
@AdminAuth()
@Controller('api/admin/domains')
export class AdminDomainsController {
  constructor(private readonly domains: DomainsService) {}

  @Get()
  @ApiOperation({ summary: 'List served domains' })
  @ApiOkResponse({ type: [DomainResponse] })
  async list(): Promise<DomainResponse[]> {
    return (await this.domains.list()).map(toResponse);
  }

  @Post()
  @ApiOperation({ summary: 'Add a domain' })
  @ApiCreatedResponse({ type: DomainResponse })
  @ApiResponse({ status: 409, description: 'The domain exists', type: ProblemResponse })
  async add(@Body() dto: AddDomainDto): Promise<DomainResponse> {
    return toResponse(await this.domains.add(dto.name));
  }

  @Patch(':domain')
  @ApiOperation({ summary: 'Enable or disable a domain' })
  @ApiOkResponse({ type: DomainResponse })
  @ApiResponse({ status: 404, description: 'The domain is not served', type: ProblemResponse })
  async update(
    @Param('domain') domain: string,
    @Body() dto: UpdateDomainDto,
  ): Promise<DomainResponse> {
    return toResponse(await this.domains.setEnabled(domain, dto.enabled));
  }

  @Delete(':domain')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a domain with all its users and their data' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 404, description: 'The domain is not served', type: ProblemResponse })
  async remove(@Param('domain') domain: string): Promise<void> {
    await this.domains.remove(domain);
  }
}

function toResponse(domain: DomainEntity): DomainResponse {
  return { name: domain.name, enabled: domain.enabled, created_at: domain.createdAt.toISOString() };
}
