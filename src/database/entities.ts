import { DomainEntity } from '#src/accounts/domain.entity.js';
import { UserEntity } from '#src/accounts/user.entity.js';
import { TokenEntity } from '#src/auth/token.entity.js';
import { BlockEntity } from '#src/blocking/block.entity.js';
import { ContactEntity } from '#src/contacts/contact.entity.js';
import { ConversationSequenceEntity, EventOutboxEntity } from '#src/events/event-outbox.entity.js';
import {
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
} from '#src/events/webhook-delivery.entity.js';
import { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { InboxEntryEntity } from '#src/inbox/inbox-entry.entity.js';
import { ArchivedMessageEntity } from '#src/messaging/archived-message.entity.js';
import { ChatMarkerEntity } from '#src/messaging/chat-marker.entity.js';
import { MessageReactionEntity } from '#src/messaging/message-reaction.entity.js';
import { RoomMemberEntity } from '#src/rooms/room-member.entity.js';
import { RoomMessageEntity } from '#src/rooms/room-message.entity.js';
import { RoomEntity } from '#src/rooms/room.entity.js';
import { LastActivityEntity } from '#src/presence/last-activity.entity.js';
import { OfflineMarkEntity } from '#src/presence/offline-mark.entity.js';
import { PrivateFragmentEntity } from '#src/private-storage/private-fragment.entity.js';
import { ProfileEntity } from '#src/profiles/profile.entity.js';

/** Every entity of the schema; the migrations must describe exactly these. */
export const ENTITIES = [
  DomainEntity,
  UserEntity,
  TokenEntity,
  ArchivedMessageEntity,
  EventOutboxEntity,
  ConversationSequenceEntity,
  WebhookEndpointEntity,
  WebhookDeliveryEntity,
  WebhookAttemptEntity,
  MessageReactionEntity,
  ChatMarkerEntity,
  InboxEntryEntity,
  RoomEntity,
  RoomMemberEntity,
  RoomMessageEntity,
  ContactEntity,
  BlockEntity,
  LastActivityEntity,
  OfflineMarkEntity,
  ProfileEntity,
  PrivateFragmentEntity,
];
