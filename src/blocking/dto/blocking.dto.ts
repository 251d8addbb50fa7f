import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class BlockDto {
  @ApiProperty({
    description: 'A bare JID to block, or a domain to block every address on it',
    example: 'mallory@localhost',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  jid: string;
}

export class BlockResponse {
  @ApiProperty({ example: 'mallory@localhost' })
  jid: string;

  @ApiProperty({ example: '2026-12-04T15:00:00.000Z' })
  blocked_at: string;
}

export class UnblockAllResponse {
  @ApiProperty({
    type: [String],
    description: 'What was unblocked',
    example: ['mallory@localhost'],
  })
  unblocked: string[];
}
