import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class TokenResponse {
  @ApiProperty({ description: 'Bearer token for the API and socket.io' })
  access_token: string;

  @ApiProperty({ description: 'Exchanges for a new pair at POST /api/tokens/refresh; single use' })
  refresh_token: string;

  @ApiProperty({ description: 'Seconds until the access token expires', example: 3600 })
  expires_in: number;

  @ApiProperty({ description: 'Seconds until the refresh token expires', example: 2592000 })
  refresh_expires_in: number;

  @ApiProperty({ example: 'Bearer' })
  token_type: 'Bearer';
}

export class RefreshTokenDto {
  @ApiProperty()
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  refresh_token: string;
}

export class RevokeTokenDto {
  @ApiProperty({ description: 'An access or refresh token; its pair is revoked' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  token: string;
}
