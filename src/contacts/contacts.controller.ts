import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Res,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';

import { parseUserAddress } from '#src/accounts/users.service.js';
import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import type { ContactView } from '#src/contacts/contact-view.js';
import {
  AddContactDto,
  BulkRemoveDto,
  BulkRemoveResponse,
  ContactFieldsDto,
  ContactResponse,
  SubscriptionActionDto,
} from '#src/contacts/dto/contacts.dto.js';
import { RosterService } from '#src/contacts/roster.service.js';
import { SubscriptionsService } from '#src/contacts/subscriptions.service.js';

@ApiTags('contacts')
@UserAuth()
@Controller('api/contacts')
export class ContactsController {
  constructor(
    private readonly roster: RosterService,
    private readonly subscriptions: SubscriptionsService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The roster, by JID',
    description: 'Includes those whose subscription request waits for an answer (`ask: in`).',
  })
  @ApiOkResponse({ type: [ContactResponse] })
  list(@CurrentUser() user: AuthenticatedUser): Promise<ContactView[]> {
    return this.roster.list(user);
  }

  @Post()
  @ApiOperation({
    summary: 'Add a contact without asking for a subscription',
    description:
      '201 when added; 200 when it was in the roster already (name and groups given are set).',
  })
  @ApiCreatedResponse({ type: ContactResponse })
  @ApiOkResponse({ type: ContactResponse, description: 'In the roster already' })
  @ApiResponse({
    status: 400,
    description: 'Invalid fields, or the user’s own JID',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 404,
    description: 'No such user on a domain served here',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 409,
    description: 'The roster holds CONTACTS_MAX_PER_USER contacts',
    type: ProblemResponse,
  })
  async add(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: AddContactDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ContactView> {
    const { view, created } = await this.roster.add(user, dto.jid, dto);
    response.status(created ? 201 : 200);

    return view;
  }

  @Delete()
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove several contacts, with their subscriptions' })
  @ApiOkResponse({ type: BulkRemoveResponse })
  @ApiResponse({
    status: 400,
    description: 'Invalid fields or JIDs; nothing removed',
    type: ProblemResponse,
  })
  async removeMany(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: BulkRemoveDto,
  ): Promise<BulkRemoveResponse> {
    const jids = dto.to_delete.map((jid, index) => parseUserAddress(jid, `to_delete[${index}]`));
    const notDeleted: string[] = [];
    for (const jid of new Set(jids)) {
      if (jid === user.jid || !(await this.subscriptions.remove(user, jid))) {
        notDeleted.push(jid);
      }
    }

    return { not_deleted: notDeleted };
  }

  @Put(':jid')
  @ApiOperation({
    summary: 'Invite, accept, decline or cancel a presence subscription',
    description:
      'Follows RFC 6121: both sides’ rosters change together, and a request that does not apply in the current state changes nothing (200 all the same).',
  })
  @ApiOkResponse({ type: ContactResponse, description: 'The user’s item for the contact now' })
  @ApiResponse({ status: 400, description: 'Invalid action or JID', type: ProblemResponse })
  @ApiResponse({
    status: 404,
    description: 'Invite to a user that does not exist',
    type: ProblemResponse,
  })
  @ApiResponse({
    status: 409,
    description: 'The user blocks the contact, or the roster is full',
    type: ProblemResponse,
  })
  act(
    @CurrentUser() user: AuthenticatedUser,
    @Param('jid') jid: string,
    @Body() dto: SubscriptionActionDto,
  ): Promise<ContactView> {
    return this.subscriptions.act(user, jid, dto.action);
  }

  @Patch(':jid')
  @ApiOperation({ summary: 'Set the name or groups of a contact' })
  @ApiOkResponse({ type: ContactResponse })
  @ApiResponse({ status: 400, description: 'Invalid fields', type: ProblemResponse })
  @ApiResponse({ status: 404, description: 'Not in the roster', type: ProblemResponse })
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('jid') jid: string,
    @Body() dto: ContactFieldsDto,
  ): Promise<ContactView> {
    return this.roster.update(user, jid, dto);
  }

  @Delete(':jid')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a contact and cancel the subscriptions both ways' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 400, description: 'The JID is malformed', type: ProblemResponse })
  @ApiResponse({ status: 404, description: 'Not in the roster', type: ProblemResponse })
  async remove(@CurrentUser() user: AuthenticatedUser, @Param('jid') jid: string): Promise<void> {
    if (!(await this.subscriptions.remove(user, jid))) {
      throw new AppError('not-found', { detail: `${jid} is not in your contacts` });
    }
  }
}
