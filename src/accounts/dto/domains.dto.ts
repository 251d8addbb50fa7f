import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class AddDomainDto {
  @ApiProperty({ example: 'chat.example.org' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1023)
  name: string;
}

export class UpdateDomainDto {
  @ApiProperty({
    description: 'A disabled domain keeps its data but refuses logins and messages to its users',
  })
  @IsBoolean()
  enabled: boolean;
}

export class DomainResponse {
  @ApiProperty({ example: 'localhost' })
  name: string;

  @ApiProperty()
  enabled: boolean;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  created_at: string;
}
