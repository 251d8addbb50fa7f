import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';

import { IsXmlText } from '#src/common/validation.js';
import { ACTIONS, type SubscriptionAction } from '#src/contacts/subscriptions.service.js';

/** Groups per contact; XMPP sets no limit, a client showing them needs one. */
const MAX_GROUPS = 64;

export class ContactFieldsDto {
  @ApiPropertyOptional({
    description: 'A name for the contact; null removes it',
    maxLength: 1023,
    nullable: true,
    example: 'Bob',
  })
  @IsOptional()
  @IsString()
  @MaxLength(1023)
  @IsXmlText()
  name?: string | null;

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_GROUPS,
    description: 'Group names; replaces the groups the contact had',
    example: ['Friends'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_GROUPS)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(1023, { each: true })
  @IsXmlText({ each: true })
  groups?: string[];
}

export class AddContactDto extends ContactFieldsDto {
  @ApiProperty({ description: 'Bare JID of the contact', example: 'bob@localhost' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  jid: string;
}

const ACTION_NAMES = Object.keys(ACTIONS) as SubscriptionAction[];

export class SubscriptionActionDto {
  @ApiProperty({
    enum: ACTION_NAMES,
    description:
      '`invite`: ask to receive the contact’s presence; `accept`: let the contact receive yours (answers their invite); ' +
      '`decline`: refuse their invite or stop them receiving yours; `cancel`: withdraw your invite or stop receiving theirs',
  })
  @IsIn(ACTION_NAMES)
  action: SubscriptionAction;
}

export class BulkRemoveDto {
  @ApiProperty({ type: [String], maxItems: 1000, example: ['bob@localhost'] })
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(3071, { each: true })
  to_delete: string[];
}

export class BulkRemoveResponse {
  @ApiProperty({ type: [String], description: 'Those that were not in the roster' })
  not_deleted: string[];
}

export class ContactResponse {
  @ApiProperty({ example: 'bob@localhost' })
  jid: string;

  @ApiProperty({
    enum: ['none', 'to', 'from', 'both'],
    description: '`to`: you receive their presence; `from`: they receive yours (RFC 6121)',
  })
  subscription: string;

  @ApiProperty({
    enum: ['none', 'out', 'in', 'both'],
    description: 'Pending requests: `out` yours to them, `in` theirs to you',
  })
  ask: string;

  @ApiPropertyOptional({ example: 'Bob' })
  name?: string;

  @ApiProperty({ type: [String], example: ['Friends'] })
  groups: string[];
}
