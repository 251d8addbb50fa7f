import { IsIn, IsNotEmpty, IsString, IsUUID, MaxLength } from 'class-validator';

import { IsXmlText } from '#src/common/validation.js';
import { MARKER_TYPES, type MarkerType } from '#src/messaging/dto/send-message.dto.js';

/** Socket payloads name the message in the body, where REST has it in the path. */
export class MessageRefDto {
  @IsUUID('7')
  id: string;
}

export class SocketMarkerDto extends MessageRefDto {
  @IsIn(MARKER_TYPES)
  type: MarkerType;
}

export class SocketEditDto extends MessageRefDto {
  @IsString()
  @IsNotEmpty()
  @IsXmlText()
  body: string;
}

export class SocketReactionDto extends MessageRefDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  emoji: string;
}
