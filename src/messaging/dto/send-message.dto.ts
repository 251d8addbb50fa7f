import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

import { ArchivePageQuery } from '#src/common/paging.js';
import { isPlainRecord, IsXmlText, registerFastAccept } from '#src/common/validation.js';
import { isXmlSafe } from '#src/common/xml-text.js';

export class SendMessageDto {
  @ApiProperty({ description: 'Bare JID of the recipient', example: 'bob@localhost' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  to: string;

  @ApiProperty({
    description: 'Message text; at most MESSAGE_MAX_BYTES bytes of UTF-8',
    example: 'Hello, Bob',
  })
  @IsString()
  @IsNotEmpty()
  @IsXmlText()
  body: string;

  @ApiPropertyOptional({
    description:
      'Client-chosen id; a retry with the same value returns the first result (same as the Idempotency-Key header)',
    example: '3f6b2c1e-client-42',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  @IsXmlText()
  client_id?: string;

  @ApiPropertyOptional({
    description: 'The id of the message this one answers, from the same conversation',
    example: '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b',
  })
  @IsOptional()
  @IsUUID('7')
  reply_to?: string;

  @ApiPropertyOptional({
    description:
      'The thread to file the message under; a reply without one joins the thread of the message it answers (or starts one named by that message’s id)',
    example: 'trip-planning',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  @IsXmlText()
  thread?: string;
}

const SEND_FIELDS = new Set(['to', 'body', 'client_id', 'reply_to', 'thread']);
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A non-empty XML-safe string of at most `max` UTF-16 units (class-validator counts code points, never more). */
function isShortText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value !== '' && value.length <= max && isXmlSafe(value);
}

/** Absent, or present as the rule wants (a present null or undefined is left to class-validator). */
function absentOr(
  value: Readonly<Record<string, unknown>>,
  key: string,
  ok: (v: unknown) => boolean,
): boolean {
  return !(key in value) || ok(value[key]);
}

/**
 * Every send passes here (REST and socket.io), so the rules above are also
 * checked by hand for what is clearly valid; anything else gets
 * class-validator's verdict and wording.
 */
export function acceptSendMessage(
  value: Readonly<Record<string, unknown>>,
): SendMessageDto | undefined {
  if (
    !isPlainRecord(value, SEND_FIELDS) ||
    typeof value.to !== 'string' ||
    value.to === '' ||
    value.to.length > 3071 ||
    typeof value.body !== 'string' ||
    value.body === '' ||
    !isXmlSafe(value.body) ||
    !absentOr(value, 'client_id', (v) => isShortText(v, 128)) ||
    !absentOr(value, 'reply_to', (v) => typeof v === 'string' && UUID_V7.test(v)) ||
    !absentOr(value, 'thread', (v) => isShortText(v, 128))
  ) {
    return undefined;
  }

  return Object.assign(new SendMessageDto(), value);
}

registerFastAccept(SendMessageDto, acceptSendMessage);

export class AdminSendMessageDto extends SendMessageDto {
  @ApiPropertyOptional({
    description: 'Bare JID of the sender; defaults to SYSTEM_SENDER',
    example: 'alice@localhost',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  from?: string;
}

export class SentMessageResponse {
  @ApiProperty({
    description: 'Server-assigned message id (UUIDv7)',
    example: '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b',
  })
  id: string;
}

export class MessageResponse {
  @ApiProperty({ example: '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b' })
  id: string;

  @ApiProperty({ example: 'alice@localhost' })
  from: string;

  @ApiProperty({ example: 'bob@localhost' })
  to: string;

  @ApiProperty({ example: 'Hello, Bob' })
  body: string;

  @ApiProperty({ description: 'Epoch milliseconds', example: 1764860000000 })
  timestamp: number;

  @ApiProperty({
    enum: ['in', 'out'],
    description: '`out` in the sender’s archive, `in` in the recipient’s',
  })
  direction: 'in' | 'out';

  @ApiPropertyOptional({ description: 'The sender’s idempotency key; shown to the sender only' })
  client_id?: string;

  @ApiPropertyOptional({ description: 'The message this one answers' })
  reply_to?: string;

  @ApiPropertyOptional({ description: 'The thread it belongs to' })
  thread?: string;

  @ApiPropertyOptional({
    description: 'Epoch milliseconds of the last edit; absent if never edited',
  })
  edited_at?: number;

  @ApiPropertyOptional({ description: 'How many times the message was edited' })
  revision?: number;

  @ApiPropertyOptional({
    description: 'Epoch milliseconds of the retraction; the body is then empty',
  })
  retracted_at?: number;

  @ApiPropertyOptional({ type: () => [ReactionCountResponse], description: 'Absent when none' })
  reactions?: ReactionCountResponse[];
}

export class ReactionCountResponse {
  @ApiProperty({ example: '👍' })
  emoji: string;

  @ApiProperty({ example: 2 })
  count: number;

  @ApiProperty({ description: 'Whether the reader reacted with it' })
  mine: boolean;
}

export class EditMessageDto {
  @ApiProperty({ description: 'The corrected text', example: 'Hello, Bob!' })
  @IsString()
  @IsNotEmpty()
  @IsXmlText()
  body: string;
}

export const MARKER_TYPES = ['received', 'displayed', 'acknowledged'] as const;
export type MarkerType = (typeof MARKER_TYPES)[number];

export class MarkerDto {
  @ApiProperty({
    enum: MARKER_TYPES,
    description:
      'XEP-0333: each covers the message and every earlier one; displayed implies received, acknowledged implies both',
  })
  @IsIn(MARKER_TYPES)
  type: MarkerType;
}

export class ThreadPageQuery extends ArchivePageQuery {
  @ApiPropertyOptional({ description: 'Only the messages of this thread' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  thread?: string;
}
