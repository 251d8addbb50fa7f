import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBase64,
  IsEmail,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';

import { IsXmlText } from '#src/common/validation.js';

/** Longest name, nickname, address or URL, in characters. */
export const PROFILE_TEXT_MAX = 1023;
/** Longest free text (the vCard `DESC`), in characters. */
export const PROFILE_NOTE_MAX = 4096;
/** Largest avatar, decoded: it travels inside one vCard stanza. */
export const AVATAR_MAX_BYTES = 64 * 1024;
const AVATAR_BASE64_MAX = Math.ceil(AVATAR_MAX_BYTES / 3) * 4;

export class AvatarDto {
  @ApiProperty({ description: 'Media type of the image', example: 'image/png' })
  @IsString()
  @Matches(/^image\/[a-z0-9.+-]{1,64}$/, { message: 'type must be an image media type' })
  type: string;

  @ApiProperty({
    description: `The image, base64 (at most ${AVATAR_MAX_BYTES} bytes decoded)`,
    maxLength: AVATAR_BASE64_MAX,
  })
  @IsString()
  @MaxLength(AVATAR_BASE64_MAX, { message: `data is at most ${AVATAR_MAX_BYTES} bytes decoded` })
  @IsBase64()
  data: string;
}

/** A whole profile: a field left out or null is cleared. */
export class ProfileDto {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: PROFILE_TEXT_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_TEXT_MAX)
  @IsXmlText()
  full_name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: PROFILE_TEXT_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_TEXT_MAX)
  @IsXmlText()
  nickname?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: PROFILE_TEXT_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_TEXT_MAX)
  @IsEmail()
  email?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: PROFILE_TEXT_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_TEXT_MAX)
  @IsXmlText()
  url?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: '1990-04-01' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'birthday is a date, YYYY-MM-DD' })
  @IsISO8601({ strict: true }, { message: 'birthday is a date, YYYY-MM-DD' })
  birthday?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: PROFILE_NOTE_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(PROFILE_NOTE_MAX)
  @IsXmlText()
  note?: string | null;

  @ApiPropertyOptional({ type: AvatarDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AvatarDto)
  avatar?: AvatarDto | null;
}

class AvatarResponse {
  @ApiProperty({ example: 'image/png' })
  type: string;

  @ApiProperty({ description: 'base64' })
  data: string;
}

export class ProfileResponse {
  @ApiProperty({ example: 'alice@localhost' })
  jid: string;

  @ApiProperty({ type: String, nullable: true })
  full_name: string | null;

  @ApiProperty({ type: String, nullable: true })
  nickname: string | null;

  @ApiProperty({ type: String, nullable: true })
  email: string | null;

  @ApiProperty({ type: String, nullable: true })
  url: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'YYYY-MM-DD' })
  birthday: string | null;

  @ApiProperty({ type: String, nullable: true })
  note: string | null;

  @ApiProperty({ type: AvatarResponse, nullable: true })
  avatar: AvatarResponse | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Epoch milliseconds of the last change; null when never set',
  })
  updated_at: number | null;
}
