import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

import { EVENT_TYPES } from '#src/events/event-catalogue.js';

/** Version 1 payloads of the webhook events, for the OpenAPI document (components/schemas). */
export class MessageCreatedV1 {
  @ApiProperty({ description: 'Message id (UUIDv7)' })
  id: string;

  @ApiProperty({ example: 'alice@localhost' })
  from: string;

  @ApiProperty({ example: 'bob@localhost' })
  to: string;

  @ApiProperty()
  body: string;

  @ApiProperty({ description: 'Epoch milliseconds' })
  timestamp: number;

  @ApiPropertyOptional()
  client_id?: string;

  @ApiPropertyOptional({ description: 'The message this one answers' })
  reply_to?: string;

  @ApiPropertyOptional()
  thread?: string;
}

export class MessageEditedV1 {
  @ApiProperty()
  id: string;

  @ApiProperty()
  from: string;

  @ApiProperty()
  to: string;

  @ApiProperty({ description: 'The new body' })
  body: string;

  @ApiProperty({ description: 'How many times the message has been edited' })
  revision: number;

  @ApiProperty({ description: 'Epoch milliseconds' })
  edited_at: number;
}

export class MessageRetractedV1 {
  @ApiProperty()
  id: string;

  @ApiProperty()
  from: string;

  @ApiProperty()
  to: string;

  @ApiProperty({ description: 'Epoch milliseconds' })
  retracted_at: number;
}

class ConversationName {
  @ApiProperty({ enum: ['chat', 'room'] })
  type: string;

  @ApiProperty({ description: 'The peer’s bare JID, or the room id' })
  id: string;
}

export class MessageDisplayedV1 {
  @ApiProperty({ description: 'The newest message displayed' })
  id: string;

  @ApiProperty({ description: 'Who displayed it' })
  by: string;

  @ApiProperty({ type: ConversationName, description: 'The conversation as `by` names it' })
  conversation: ConversationName;
}

export class MessageReactedV1 {
  @ApiProperty()
  id: string;

  @ApiProperty()
  by: string;

  @ApiProperty({ example: '👍' })
  emoji: string;

  @ApiProperty({ description: 'False when the reaction was removed' })
  added: boolean;
}

export class RoomCreatedV1 {
  @ApiProperty({ description: 'Room id', example: 'team' })
  room: string;

  @ApiProperty({ example: 'Team' })
  name: string;

  @ApiProperty({ example: 'Release planning' })
  subject: string;

  @ApiProperty({ example: 'alice@localhost' })
  owner: string;
}

export class RoomMemberAddedV1 {
  @ApiProperty({ example: 'team' })
  room: string;

  @ApiProperty({ example: 'bob@localhost' })
  member: string;

  @ApiProperty({ enum: ['owner', 'member'] })
  role: string;

  @ApiPropertyOptional({ description: 'Who added them; absent when an administrator did' })
  by?: string;
}

export class RoomMemberRemovedV1 {
  @ApiProperty({ example: 'team' })
  room: string;

  @ApiProperty({ example: 'bob@localhost' })
  member: string;

  @ApiProperty({ enum: ['left', 'removed', 'account_deleted'] })
  reason: string;

  @ApiPropertyOptional({
    description: 'Who removed them; absent when they left or an administrator did',
  })
  by?: string;
}

export class RoomMessageCreatedV1 {
  @ApiProperty({ example: 'team' })
  room: string;

  @ApiProperty({ description: 'Message id (UUIDv7)' })
  id: string;

  @ApiProperty({ example: 'alice@localhost' })
  from: string;

  @ApiProperty()
  body: string;

  @ApiProperty({ description: 'Epoch milliseconds' })
  timestamp: number;

  @ApiPropertyOptional()
  client_id?: string;
}

class RoomSettingsV1 {
  @ApiProperty({ enum: ['owners', 'members'] })
  configure: string;

  @ApiProperty({ enum: ['owners', 'members'] })
  invite: string;

  @ApiProperty({ enum: ['owners', 'members'] })
  remove: string;
}

export class RoomConfigChangedV1 {
  @ApiProperty({ example: 'team' })
  room: string;

  @ApiProperty()
  name: string;

  @ApiProperty()
  subject: string;

  @ApiProperty({ type: RoomSettingsV1 })
  settings: RoomSettingsV1;

  @ApiPropertyOptional({ description: 'Who changed it; absent when an administrator did' })
  by?: string;
}

export class RoomDestroyedV1 {
  @ApiProperty({ example: 'team' })
  room: string;

  @ApiPropertyOptional({
    description:
      'The owner who destroyed it; absent for an administrator, or when the last member left',
  })
  by?: string;
}

export class UserEventV1 {
  @ApiProperty({
    example: 'alice@localhost',
    description: 'user.created, user.deleted, presence.offline',
  })
  jid: string;
}

export class PresenceOnlineV1 {
  @ApiProperty({ example: 'alice@localhost' })
  jid: string;

  @ApiProperty()
  resource: string;

  @ApiProperty({ enum: ['socket.io', 'sse'] })
  transport: string;
}

export class ContactSubscriptionV1 {
  @ApiProperty({
    example: 'alice@localhost',
    description:
      'contact.subscribed, contact.unsubscribed: the user who now receives (or no longer receives) the presence',
  })
  user: string;

  @ApiProperty({ example: 'bob@localhost', description: 'Whose presence it is' })
  contact: string;
}

export class WebhookTestV1 {
  @ApiProperty()
  endpoint_id: string;

  @ApiProperty()
  message: string;
}

export class EndpointDisabledV1 {
  @ApiProperty()
  endpoint_id: string;

  @ApiProperty()
  url: string;

  @ApiProperty({ example: 'the endpoint answered 410 Gone' })
  reason: string;
}

const EVENT_PAYLOADS = [
  MessageCreatedV1,
  MessageEditedV1,
  MessageRetractedV1,
  MessageDisplayedV1,
  MessageReactedV1,
  RoomCreatedV1,
  RoomMemberAddedV1,
  RoomMemberRemovedV1,
  RoomMessageCreatedV1,
  RoomConfigChangedV1,
  RoomDestroyedV1,
  UserEventV1,
  PresenceOnlineV1,
  ContactSubscriptionV1,
  WebhookTestV1,
  EndpointDisabledV1,
];

class ConversationPosition {
  @ApiProperty({
    example: 'direct:alice@localhost|bob@localhost',
    description: '`direct:{jid}|{jid}` for one-to-one, `room:{id}` for a room',
  })
  id: string;

  @ApiProperty({ description: 'Increases by one with each event of the conversation' })
  sequence: number;
}

/** The JSON body of every webhook delivery; `webhook-id` carries `id`. */
export class WebhookEventEnvelope {
  @ApiProperty({ description: 'Event id, the same in every attempt: receivers deduplicate on it' })
  id: string;

  @ApiProperty({ enum: EVENT_TYPES })
  type: string;

  @ApiProperty({ description: 'When the event was recorded (ISO 8601)' })
  timestamp: string;

  @ApiProperty({ description: 'Payload version of this event type', example: 1 })
  version: number;

  @ApiProperty({ example: 'localhost' })
  domain: string;

  @ApiPropertyOptional({ type: ConversationPosition, description: 'For conversation events' })
  conversation?: ConversationPosition;

  @ApiProperty({
    oneOf: EVENT_PAYLOADS.map((model) => ({ $ref: getSchemaPath(model) })),
  })
  data: unknown;
}

export const EVENT_SCHEMAS = [WebhookEventEnvelope, ...EVENT_PAYLOADS];
