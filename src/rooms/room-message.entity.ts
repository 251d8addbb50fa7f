import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import type { MessageRevision } from '#src/messaging/archived-message.entity.js';
import { RoomEntity } from '#src/rooms/room.entity.js';
import type { RoomEntryData, RoomEntryKind } from '#src/rooms/room-message-view.js';

/**
 * The room archive: every message once, whatever the number of members,
 * and the membership and configuration changes between them, so each
 * member's history shows who joined and left. Keyed by a server-minted
 * UUIDv7 whose time part is the timestamp.
 */
@Entity({ name: 'room_messages' })
@Index('room_messages_client_id_key', ['roomId', 'sender', 'clientId'], {
  unique: true,
  where: 'client_id IS NOT NULL',
})
@Index('room_messages_thread_idx', ['roomId', 'thread', 'id'], { where: 'thread IS NOT NULL' })
export class RoomMessageEntity {
  @PrimaryColumn({ name: 'room_id', type: 'text', primaryKeyConstraintName: 'room_messages_pkey' })
  roomId: string;

  @ManyToOne(() => RoomEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'room_id', foreignKeyConstraintName: 'room_messages_room_id_fkey' })
  room?: RoomEntity;

  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'room_messages_pkey' })
  id: string;

  /**
   * The bare JID of who sent or did it; null for what the server or an
   * administrator did. Text, not a reference: a deleted user's messages
   * stay in the history under their address.
   */
  @Column({ type: 'text', nullable: true })
  sender: string | null;

  @Column({ type: 'text' })
  kind: RoomEntryKind;

  /** The text of a `message`; null for the other kinds. */
  @Column({ type: 'text', nullable: true })
  body: string | null;

  /** The sender's idempotency key. */
  @Column({ name: 'client_id', type: 'text', nullable: true })
  clientId: string | null;

  /** For membership entries: the member concerned. */
  @Column({ type: 'text', nullable: true })
  member: string | null;

  /** The rest of a non-message entry: role, new name and subject, settings, reason. */
  @Column({ type: 'jsonb', nullable: true })
  data: RoomEntryData | null;

  /** The message this one answers. */
  @Column({ name: 'reply_to', type: 'uuid', nullable: true })
  replyTo: string | null;

  @Column({ type: 'text', nullable: true })
  thread: string | null;

  /** Earlier bodies of an edited message, as in the one-to-one archive. */
  @Column({ type: 'jsonb', nullable: true })
  revisions: MessageRevision[] | null;

  @Column({ name: 'edited_at', type: 'timestamptz', nullable: true })
  editedAt: Date | null;

  @Column({ name: 'retracted_at', type: 'timestamptz', nullable: true })
  retractedAt: Date | null;
}
