import { timestampOf } from '#src/common/ids.js';
import type { RoomRole, RoomSettings } from '#src/rooms/room-rules.js';

/** What a room archive entry records. */
export const ROOM_ENTRY_KINDS = [
  'message',
  'room_created',
  'config_changed',
  'member_joined',
  'member_left',
  'member_removed',
  'role_changed',
] as const;
export type RoomEntryKind = (typeof ROOM_ENTRY_KINDS)[number];

/** Why a member left: on their own, removed by someone, or their account was deleted. */
export type LeaveReason = 'left' | 'removed' | 'account_deleted';

/** The details of a non-message entry, stored as JSON beside it. */
export interface RoomEntryData {
  readonly role?: RoomRole;
  readonly name?: string;
  readonly subject?: string;
  readonly settings?: RoomSettings;
  readonly reason?: LeaveReason;
}

/** A room archive entry as REST, socket.io and SSE show it; one shape everywhere. */
export interface RoomMessageView extends RoomEntryData {
  /** Server-assigned UUIDv7; also the paging cursor. */
  readonly id: string;
  readonly room: string;
  readonly kind: RoomEntryKind;
  /** Who sent or did it; absent for what the server or an administrator did. */
  readonly from?: string;
  /** Epoch milliseconds, taken from the id. */
  readonly timestamp: number;
  readonly body?: string;
  /** The member a membership entry is about. */
  readonly member?: string;
  /** The sender's idempotency key, shown only to the sender. */
  readonly client_id?: string;
  readonly reply_to?: string;
  readonly thread?: string;
}

/** The room is gone; `id` marks the event (there is no archive left to hold it). */
export interface RoomDestroyedView {
  readonly id: string;
  readonly room: string;
  /** The owner who destroyed it; absent when an administrator did, or the last member left. */
  readonly by?: string;
  readonly timestamp: number;
}

export interface RoomEntryRow {
  readonly room_id: string;
  readonly id: string;
  readonly sender: string | null;
  readonly kind: RoomEntryKind;
  readonly body: string | null;
  readonly client_id: string | null;
  readonly member: string | null;
  readonly data: RoomEntryData | null;
  readonly reply_to: string | null;
  readonly thread: string | null;
}

/** The view of a stored entry for `reader`: the idempotency key only for its sender. */
export function toRoomMessageView(row: RoomEntryRow, reader?: string): RoomMessageView {
  return {
    id: row.id,
    room: row.room_id,
    kind: row.kind,
    ...(row.sender === null ? {} : { from: row.sender }),
    timestamp: timestampOf(row.id),
    ...(row.body === null ? {} : { body: row.body }),
    ...(row.member === null ? {} : { member: row.member }),
    ...(row.data ?? {}),
    ...(row.client_id !== null && reader !== undefined && reader === row.sender
      ? { client_id: row.client_id }
      : {}),
    ...(row.reply_to === null ? {} : { reply_to: row.reply_to }),
    ...(row.thread === null ? {} : { thread: row.thread }),
  };
}
