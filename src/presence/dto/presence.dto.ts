import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

import { IsXmlText } from '#src/common/validation.js';
import { AVAILABILITIES, TYPING_STATES, type TypingState } from '#src/presence/presence-view.js';
import type { Availability } from '#src/routing/session.js';

/** What `presence:set` carries over socket.io. */
export class SessionPresenceDto {
  @ApiProperty({ enum: AVAILABILITIES, example: 'away' })
  @IsIn(AVAILABILITIES)
  show: Availability;

  @ApiPropertyOptional({ maxLength: 1024, example: 'In a meeting' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @IsXmlText()
  status?: string;
}

export class SetPresenceDto extends SessionPresenceDto {
  @ApiPropertyOptional({
    description:
      'One session’s id (from the socket.io `session` event); all the user’s sessions when absent',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  session?: string;
}

export class TypingDto {
  @ApiProperty({ description: 'Bare JID of the peer', example: 'bob@localhost' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(3071)
  to: string;

  @ApiProperty({ enum: TYPING_STATES })
  @IsIn(TYPING_STATES)
  state: TypingState;
}

class ResourcePresenceResponse {
  @ApiProperty()
  resource: string;

  @ApiProperty({ enum: AVAILABILITIES })
  show: Availability;

  @ApiPropertyOptional()
  status?: string;

  @ApiPropertyOptional({
    description:
      'XMPP sessions only: the rest of their presence as sent (priority, XEP-0115 capabilities, XEP-0153 avatar hash, XEP-0319 idle), as element trees of name, ns, attrs and children',
    type: 'array',
    items: { type: 'object' },
  })
  extensions?: object[];
}

export class PresenceResponse {
  @ApiProperty({ example: 'bob@localhost' })
  jid: string;

  @ApiProperty({
    enum: [...AVAILABILITIES, 'offline'],
    description: 'The most available session’s',
  })
  show: string;

  @ApiPropertyOptional({ description: 'The status text of that session' })
  status?: string;

  @ApiProperty({ type: [ResourcePresenceResponse], description: 'Every online session' })
  resources: ResourcePresenceResponse[];
}

export class LastActivityResponse {
  @ApiProperty({ example: 'bob@localhost' })
  jid: string;

  @ApiProperty()
  online: boolean;

  @ApiPropertyOptional({ description: 'Seconds since the last session closed; 0 while online' })
  seconds?: number;

  @ApiPropertyOptional({ description: 'When the last session closed, epoch milliseconds' })
  last_seen?: number;

  @ApiPropertyOptional({ description: 'The status text the user had then' })
  status?: string;
}
