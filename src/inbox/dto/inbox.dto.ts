import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsUUID, Min, ValidateIf } from 'class-validator';

import { PageSizeQuery } from '#src/common/paging.js';

export const CONVERSATION_KINDS = ['chat', 'room'] as const;

/** `true` or `false` in the query string; anything else fails validation. */
function QueryBoolean(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  );
}

export class InboxQuery extends PageSizeQuery {
  @ApiPropertyOptional({
    description:
      'Cursor: the `last_message.id` of the last entry of the previous page; the page continues with older activity',
  })
  @IsOptional()
  @IsUUID('7')
  before_id?: string;

  @ApiPropertyOptional({ description: 'Only conversations with unread messages' })
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  unread?: boolean;

  @ApiPropertyOptional({
    description: 'true: only archived conversations; false (the default): only the others',
  })
  @IsOptional()
  @QueryBoolean()
  @IsBoolean()
  archived?: boolean;

  @ApiPropertyOptional({ enum: CONVERSATION_KINDS, description: 'Only one kind of conversation' })
  @IsOptional()
  @IsIn(CONVERSATION_KINDS)
  type?: 'chat' | 'room';
}

export class InboxFlagsDto {
  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'Epoch milliseconds until which the conversation is muted; null unmutes',
  })
  @IsOptional()
  @ValidateIf((_object, value) => value !== null)
  @IsInt()
  @Min(0)
  muted_until?: number | null;

  @ApiPropertyOptional({ description: 'Archived conversations leave the default inbox view' })
  @IsOptional()
  @IsBoolean()
  archived?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  pinned?: boolean;
}

class LastMessageResponse {
  @ApiProperty()
  id: string;

  @ApiProperty()
  from: string;

  @ApiProperty({ description: 'Empty when the message was retracted' })
  body: string;

  @ApiProperty({ description: 'Epoch milliseconds' })
  timestamp: number;
}

export class InboxEntryResponse {
  @ApiProperty({ enum: CONVERSATION_KINDS })
  type: string;

  @ApiProperty({ description: 'The peer’s bare JID, or the room id' })
  id: string;

  @ApiProperty({ type: LastMessageResponse })
  last_message: LastMessageResponse;

  @ApiProperty()
  unread: number;

  @ApiProperty({ type: Number, nullable: true, description: 'Epoch milliseconds' })
  muted_until: number | null;

  @ApiProperty()
  archived: boolean;

  @ApiProperty()
  pinned: boolean;
}

export class UnreadTotalResponse {
  @ApiProperty({ description: 'Unread messages in conversations that are not muted' })
  unread: number;

  @ApiProperty({ description: 'Conversations that are not muted and have unread messages' })
  conversations: number;

  @ApiProperty({ description: 'Unread messages in muted conversations' })
  muted_unread: number;
}

export class ParticipantMarkersResponse {
  @ApiProperty()
  jid: string;

  @ApiProperty({ type: String, nullable: true, description: 'Newest message received' })
  received: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Newest message displayed' })
  displayed: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Newest message acknowledged' })
  acknowledged: string | null;
}

export class MessageMarkersResponse {
  @ApiProperty({ type: [String], description: 'Participants who received the message' })
  received: string[];

  @ApiProperty({ type: [String] })
  displayed: string[];

  @ApiProperty({ type: [String] })
  acknowledged: string[];
}
