import { timestampOf } from '#src/common/ids.js';
import type { MessageRevision } from '#src/messaging/archived-message.entity.js';
import type { ReactionCount } from '#src/messaging/message-view.js';
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
  /** Epoch milliseconds of the last edit; absent when never edited. */
  readonly edited_at?: number;
  readonly revision?: number;
  /** Epoch milliseconds of the retraction; the body is then empty. */
  readonly retracted_at?: number;
  readonly reactions?: readonly ReactionCount[];
}

/** The room is gone; `id` marks the event (there is no archive left to hold it). */
export interface RoomDestroyedView {
  readonly id: string;
  readonly room: string;
  /** The owner who destroyed it; absent when an administrator did, or the last member left. */
  readonly by?: string;
  readonly timestamp: number;
}

/** The columns a `RoomEntryRow` is read from. */
export const ROOM_ENTRY_COLUMNS =
  'room_id, id, sender, kind, body, client_id, member, data, reply_to, thread, revisions, edited_at, retracted_at';

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
  /** Absent on entries just written, which have none of these yet. */
  readonly revisions?: MessageRevision[] | null;
  readonly edited_at?: Date | null;
  readonly retracted_at?: Date | null;
}

/** The view of a stored entry for `reader`: the idempotency key only for its sender. */
export function toRoomMessageView(
  row: RoomEntryRow,
  reader?: string,
  reactions?: readonly ReactionCount[],
): RoomMessageView {
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
    ...(row.edited_at === null || row.edited_at === undefined
      ? {}
      : { edited_at: row.edited_at.getTime(), revision: row.revisions?.length ?? 0 }),
    ...(row.retracted_at === null || row.retracted_at === undefined
      ? {}
      : { retracted_at: row.retracted_at.getTime() }),
    ...(reactions === undefined || reactions.length === 0 ? {} : { reactions }),
  };
}
