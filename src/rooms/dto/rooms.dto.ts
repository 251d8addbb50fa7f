import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  IsUUID,
  ValidateIf,
  ValidateNested,
} from 'class-validator';

import { QueryNumber } from '#src/common/paging.js';
import { IsXmlText } from '#src/common/validation.js';
import {
  MARKER_TYPES,
  ReactionCountResponse,
  type MarkerType,
} from '#src/messaging/dto/send-message.dto.js';
import { ROOM_ENTRY_KINDS } from '#src/rooms/room-message-view.js';
import {
  ROOM_PERMISSIONS,
  ROOM_ROLES,
  type RoomPermission,
  type RoomRole,
} from '#src/rooms/room-rules.js';

const NAME_MAX = 256;
const SUBJECT_MAX = 1024;

export class RoomSettingsDto {
  @ApiPropertyOptional({
    enum: ROOM_PERMISSIONS,
    description: 'Who may change the name and subject (default `owners`)',
  })
  @IsOptional()
  @IsIn(ROOM_PERMISSIONS)
  configure?: RoomPermission;

  @ApiPropertyOptional({
    enum: ROOM_PERMISSIONS,
    description: 'Who may add members (default `owners`); adding an owner always takes an owner',
  })
  @IsOptional()
  @IsIn(ROOM_PERMISSIONS)
  invite?: RoomPermission;

  @ApiPropertyOptional({
    enum: ROOM_PERMISSIONS,
    description:
      'Who may remove other members (default `owners`); removing an owner always takes an owner',
  })
  @IsOptional()
  @IsIn(ROOM_PERMISSIONS)
  remove?: RoomPermission;
}

export class CreateRoomDto {
  @ApiProperty({ maxLength: NAME_MAX, example: 'Team' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  @IsXmlText()
  name: string;

  @ApiPropertyOptional({ maxLength: SUBJECT_MAX, example: 'Release planning', default: '' })
  @IsOptional()
  @IsString()
  @MaxLength(SUBJECT_MAX)
  @IsXmlText()
  subject?: string;

  @ApiPropertyOptional({ type: RoomSettingsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => RoomSettingsDto)
  settings?: RoomSettingsDto;
}

export class ConfigureRoomDto {
  @ApiPropertyOptional({ maxLength: NAME_MAX })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  @IsXmlText()
  name?: string;

  @ApiPropertyOptional({ maxLength: SUBJECT_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(SUBJECT_MAX)
  @IsXmlText()
  subject?: string;

  @ApiPropertyOptional({ type: RoomSettingsDto, description: 'Owners only' })
  @IsOptional()
  @ValidateNested()
  @Type(() => RoomSettingsDto)
  settings?: RoomSettingsDto;
}

export class AddRoomMemberDto {
  @ApiProperty({ description: 'Bare JID of a user of any served domain', example: 'bob@localhost' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  user: string;

  @ApiPropertyOptional({ enum: ROOM_ROLES, default: 'member' })
  @IsOptional()
  @IsIn(ROOM_ROLES)
  role?: RoomRole;
}

/** A chat marker carried by a room send. */
export class RoomMarkerDto {
  @ApiProperty({ enum: MARKER_TYPES })
  @IsIn(MARKER_TYPES)
  type: MarkerType;

  @ApiProperty({ description: 'The room message marked (and every one before it)' })
  @IsUUID('7')
  id: string;
}

/** What a member sends to a room: a message, a chat marker, or both. */
export class SendRoomMessageDto {
  @ApiPropertyOptional({
    description:
      'Message text; at most MESSAGE_MAX_BYTES bytes of UTF-8. Required without `marker`',
    example: 'Hello, team',
  })
  @ValidateIf((dto: SendRoomMessageDto) => dto.marker === undefined || dto.body !== undefined)
  @IsString()
  @IsNotEmpty()
  @IsXmlText()
  body?: string;

  @ApiPropertyOptional({
    description: 'Client-chosen id; a retry with the same value returns the first result',
    example: '3f6b2c1e-client-42',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  @IsXmlText()
  client_id?: string;

  @ApiPropertyOptional({ description: 'The id of the room message this one answers' })
  @IsOptional()
  @IsUUID('7')
  reply_to?: string;

  @ApiPropertyOptional({
    description: 'The thread; a reply without one joins the thread of the message it answers',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  @IsXmlText()
  thread?: string;

  @ApiPropertyOptional({
    type: RoomMarkerDto,
    description: 'XEP-0333 marker on a room message: received, displayed or acknowledged',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => RoomMarkerDto)
  marker?: RoomMarkerDto;
}

/** `room:send` over socket.io: the room and what POST /api/rooms/{id}/messages takes. */
export class SocketRoomMessageDto extends SendRoomMessageDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  room: string;
}

export class AdminCreateRoomDto extends CreateRoomDto {
  @ApiProperty({ description: 'Bare JID of the owner; the room lives in their domain' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  owner: string;

  @ApiPropertyOptional({ description: 'The room id; generated when absent', example: 'team' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  id?: string;
}

export class AdminSendRoomMessageDto extends SendRoomMessageDto {
  @ApiProperty({ description: 'Bare JID of the member the message is from' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  from: string;
}

export class AdminRoomListQuery {
  @ApiProperty({ description: 'The domain whose rooms to list', example: 'localhost' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1023)
  domain: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @QueryNumber()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` value of the previous page' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9._-]{1,64}$/, { message: 'after must be a room id' })
  after?: string;
}

export class RoomIdResponse {
  @ApiProperty({ example: 'team' })
  id: string;
}

export class RoomSummaryResponse {
  @ApiProperty({ example: 'team' })
  id: string;

  @ApiProperty({ example: 'Team' })
  name: string;

  @ApiProperty({ example: 'Release planning' })
  subject: string;
}

export class RoomSettingsResponse {
  @ApiProperty({ enum: ROOM_PERMISSIONS })
  configure: RoomPermission;

  @ApiProperty({ enum: ROOM_PERMISSIONS })
  invite: RoomPermission;

  @ApiProperty({ enum: ROOM_PERMISSIONS })
  remove: RoomPermission;
}

export class ParticipantResponse {
  @ApiProperty({ example: 'alice@localhost' })
  user: string;

  @ApiProperty({ enum: ROOM_ROLES })
  role: RoomRole;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  joined_at: string;
}

export class RoomDetailsResponse extends RoomSummaryResponse {
  @ApiProperty({ description: 'The domain the room lives in', example: 'localhost' })
  domain: string;

  @ApiProperty({ type: RoomSettingsResponse })
  settings: RoomSettingsResponse;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  created_at: string;

  @ApiProperty({ type: [ParticipantResponse], description: 'Longest-standing first' })
  participants: ParticipantResponse[];
}

export class AdminRoomResponse extends RoomSummaryResponse {
  @ApiProperty({ example: 'localhost' })
  domain: string;

  @ApiProperty({ description: 'Number of members', example: 3 })
  members: number;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  created_at: string;
}

export class AdminRoomListResponse {
  @ApiProperty({ type: [AdminRoomResponse] })
  rooms: AdminRoomResponse[];

  @ApiPropertyOptional({
    description: 'Pass as `after` for the next page; absent on the last page',
  })
  next?: string;
}

/** A room archive entry; which fields are present depends on `kind`. */
export class RoomMessageResponse {
  @ApiProperty({ example: '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b' })
  id: string;

  @ApiProperty({ example: 'team' })
  room: string;

  @ApiProperty({ enum: ROOM_ENTRY_KINDS })
  kind: string;

  @ApiPropertyOptional({
    description: 'Who sent or did it; absent for the server or an administrator',
    example: 'alice@localhost',
  })
  from?: string;

  @ApiProperty({ description: 'Epoch milliseconds', example: 1764860000000 })
  timestamp: number;

  @ApiPropertyOptional({ description: 'The text, for `message`' })
  body?: string;

  @ApiPropertyOptional({ description: 'The member a membership entry is about' })
  member?: string;

  @ApiPropertyOptional({ enum: ROOM_ROLES, description: 'member_joined, role_changed' })
  role?: string;

  @ApiPropertyOptional({ description: 'room_created, config_changed: the name from then on' })
  name?: string;

  @ApiPropertyOptional({ description: 'room_created, config_changed: the subject from then on' })
  subject?: string;

  @ApiPropertyOptional({ type: RoomSettingsResponse, description: 'room_created, config_changed' })
  settings?: RoomSettingsResponse;

  @ApiPropertyOptional({
    enum: ['left', 'removed', 'account_deleted'],
    description: 'member_left, member_removed',
  })
  reason?: string;

  @ApiPropertyOptional({ description: 'The sender’s idempotency key; shown to the sender only' })
  client_id?: string;

  @ApiPropertyOptional({ description: 'The message this one answers' })
  reply_to?: string;

  @ApiPropertyOptional()
  thread?: string;

  @ApiPropertyOptional({ description: 'Epoch milliseconds of the last edit' })
  edited_at?: number;

  @ApiPropertyOptional({ description: 'How many times the message was edited' })
  revision?: number;

  @ApiPropertyOptional({ description: 'Epoch milliseconds of the retraction; the body is empty' })
  retracted_at?: number;

  @ApiPropertyOptional({ type: () => [ReactionCountResponse] })
  reactions?: ReactionCountResponse[];
}
