import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  Min,
  MaxLength,
  MinLength,
} from 'class-validator';

import { QueryNumber } from '#src/common/paging.js';
import { IsXmlText } from '#src/common/validation.js';

export class RegisterUserDto {
  @ApiProperty({
    description: 'Localpart of the new JID; normalized (case-folded) per RFC 7622',
    example: 'alice',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1023)
  username: string;

  @ApiProperty({ minLength: 8, maxLength: 1024, example: 'correct horse battery' })
  @IsString()
  @MinLength(8)
  @MaxLength(1024)
  @IsXmlText()
  password: string;
}

export class ChangePasswordDto {
  @ApiProperty({ minLength: 8, maxLength: 1024 })
  @IsString()
  @MinLength(8)
  @MaxLength(1024)
  @IsXmlText()
  password: string;
}

export class UserResponse {
  @ApiProperty({ example: 'alice@localhost' })
  jid: string;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  created_at: string;
}

export class UserListQuery {
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
  @MaxLength(1023)
  @IsXmlText()
  after?: string;
}

export class UserListResponse {
  @ApiProperty({ type: [UserResponse] })
  users: UserResponse[];

  @ApiPropertyOptional({
    description: 'Pass as `after` for the next page; absent on the last page',
  })
  next?: string;
}

export class CountResponse {
  @ApiProperty({ example: 42 })
  count: number;
}
