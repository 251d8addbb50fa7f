import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsUUID,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

import { QueryNumber } from '#src/common/paging.js';
import { IsXmlText } from '#src/common/validation.js';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://hooks.example.com/relay' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(2048)
  url: string;

  @ApiProperty({
    type: [String],
    example: ['message.*', 'user.deleted'],
    description: 'Event types; `family.*` and `*` match several',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  events: string[];

  @ApiPropertyOptional({
    type: [String],
    description: 'Domains covered; empty or absent covers all',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  domains?: string[];

  @ApiPropertyOptional({ example: 'moderation backend' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  @IsXmlText()
  description?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'x-team': 'chat' },
  })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;

  @ApiPropertyOptional({
    default: true,
    description: 'Deliver one conversation’s events one at a time, in order',
  })
  @IsOptional()
  @IsBoolean()
  ordered?: boolean;

  @ApiPropertyOptional({
    default: 4,
    minimum: 1,
    maximum: 64,
    description: 'Requests in flight to this endpoint, per node',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  max_concurrency?: number;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class UpdateWebhookDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  events?: string[];

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  domains?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(500)
  @IsXmlText()
  description?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  ordered?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: 64 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  max_concurrency?: number;

  @ApiPropertyOptional({
    description: 'false disables the endpoint; true enables it and clears its failure state',
  })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class WebhookResponse {
  @ApiProperty()
  id: string;

  @ApiProperty()
  url: string;

  @ApiProperty({ type: [String] })
  events: string[];

  @ApiProperty({ type: [String] })
  domains: string[];

  @ApiPropertyOptional()
  description?: string;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  headers: Record<string, string>;

  @ApiProperty()
  ordered: boolean;

  @ApiProperty()
  max_concurrency: number;

  @ApiProperty()
  enabled: boolean;

  @ApiPropertyOptional()
  disabled_reason?: string;

  @ApiProperty({ enum: ['custom', 'forward'] })
  kind: string;

  @ApiPropertyOptional()
  last_success_at?: string;

  @ApiPropertyOptional()
  failing_since?: string;

  @ApiProperty()
  created_at: string;
}

export class CreatedWebhookResponse extends WebhookResponse {
  @ApiProperty({
    description: 'The signing secret; shown only here and on rotation',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  })
  secret: string;
}

export class RotatedSecretResponse {
  @ApiProperty()
  secret: string;

  @ApiProperty({
    description: 'Until then deliveries carry signatures with both the old and the new secret',
  })
  previous_secret_expires_at: string;
}

export class TestEventResponse {
  @ApiProperty()
  event_id: string;

  @ApiProperty()
  delivery_id: string;
}

export class DeliveryQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @QueryNumber()
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` value of the previous page' })
  @IsOptional()
  @IsUUID()
  before?: string;

  @ApiPropertyOptional({ enum: ['pending', 'succeeded', 'dead'] })
  @IsOptional()
  @IsIn(['pending', 'succeeded', 'dead'])
  status?: 'pending' | 'succeeded' | 'dead';
}

export class AttemptResponse {
  @ApiProperty()
  attempt: number;

  @ApiProperty()
  started_at: string;

  @ApiProperty()
  duration_ms: number;

  @ApiPropertyOptional()
  status_code?: number;

  @ApiPropertyOptional()
  error?: string;

  @ApiPropertyOptional({ description: 'The start of the receiver’s answer' })
  response_body?: string;
}

export class DeliveryResponse {
  @ApiProperty()
  id: string;

  @ApiProperty()
  event_id: string;

  @ApiProperty()
  event_type: string;

  @ApiProperty({ enum: ['pending', 'succeeded', 'dead'] })
  status: string;

  @ApiProperty()
  attempts: number;

  @ApiPropertyOptional()
  next_attempt_at?: string;

  @ApiProperty()
  created_at: string;

  @ApiProperty({ type: [AttemptResponse] })
  log: AttemptResponse[];
}

export class DeliveryPageResponse {
  @ApiProperty({ type: [DeliveryResponse] })
  deliveries: DeliveryResponse[];

  @ApiPropertyOptional()
  next?: string;
}

export class ReplayDto {
  @ApiProperty({ description: 'Replay dead deliveries created at or after this time (ISO 8601)' })
  @IsISO8601()
  since: string;

  @ApiPropertyOptional({ description: 'and before this time; default now' })
  @IsOptional()
  @IsISO8601()
  until?: string;
}

export class ReplayResponse {
  @ApiProperty()
  replayed: number;
}
