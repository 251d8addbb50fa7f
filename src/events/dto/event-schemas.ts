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

class ConversationPosition {
  @ApiProperty({ example: 'direct:alice@localhost|bob@localhost' })
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
    oneOf: [
      MessageCreatedV1,
      UserEventV1,
      PresenceOnlineV1,
      ContactSubscriptionV1,
      WebhookTestV1,
      EndpointDisabledV1,
    ].map((model) => ({ $ref: getSchemaPath(model) })),
  })
  data: unknown;
}

export const EVENT_SCHEMAS = [
  WebhookEventEnvelope,
  MessageCreatedV1,
  UserEventV1,
  PresenceOnlineV1,
  ContactSubscriptionV1,
  WebhookTestV1,
  EndpointDisabledV1,
];
