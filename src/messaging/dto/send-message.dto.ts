import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

import { IsXmlText } from '#src/common/validation.js';

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
}

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
}
