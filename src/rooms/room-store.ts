import { QueryFailedError } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';
import type { RoomRole, RoomSettings } from '#src/rooms/room-rules.js';

/** A DataSource or a transaction's EntityManager: anything that runs SQL. */
export interface Queryable {
  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T>;
}

export interface RoomState {
  readonly id: string;
  readonly domain: string;
  readonly name: string;
  readonly subject: string;
  readonly settings: RoomSettings;
  readonly createdAt: Date;
}

export interface MemberRow {
  readonly jid: string;
  readonly role: RoomRole;
  readonly joinedAt: Date;
}

interface RoomRow {
  id: string;
  domain: string;
  name: string;
  subject: string;
  configure_by: RoomSettings['configure'];
  invite_by: RoomSettings['invite'];
  remove_by: RoomSettings['remove'];
  created_at: Date;
}

export const ROOM_COLUMNS =
  'r.id, r.domain, r.name, r.subject, r.configure_by, r.invite_by, r.remove_by, r.created_at';

export function toRoomState(row: RoomRow): RoomState {
  return {
    id: row.id,
    domain: row.domain,
    name: row.name,
    subject: row.subject,
    settings: { configure: row.configure_by, invite: row.invite_by, remove: row.remove_by },
    createdAt: row.created_at,
  };
}

export interface Membership {
  readonly room: RoomState;
  readonly role: RoomRole;
}

/**
 * The room as one of its members sees it, or nothing. The one answer for a
 * room that does not exist and a room the user is not in: the lookup is a
 * single primary-key probe of the membership either way, so neither the
 * problem nor the time it takes tells a non-member which case it is.
 */
export async function membershipOf(
  db: Queryable,
  roomId: string,
  jid: string,
  lock = false,
): Promise<Membership> {
  const rows = await db.query<(RoomRow & { role: RoomRole })[]>(
    `SELECT ${ROOM_COLUMNS}, m.role FROM room_members m JOIN rooms r ON r.id = m.room_id
     WHERE m.room_id = $1 AND m.jid = $2${lock ? ' FOR UPDATE OF r' : ''}`,
    [roomId, jid],
  );
  const row = rows[0];
  if (row === undefined) {
    throw roomNotFound(roomId);
  }

  return { room: toRoomState(row), role: row.role };
}

/** The room, for an administrator (who may see that it exists), optionally locked for a change. */
export async function roomById(db: Queryable, roomId: string, lock = false): Promise<RoomState> {
  const rows = await db.query<RoomRow[]>(
    `SELECT ${ROOM_COLUMNS} FROM rooms r WHERE r.id = $1${lock ? ' FOR UPDATE' : ''}`,
    [roomId],
  );
  const row = rows[0];
  if (row === undefined) {
    throw roomNotFound(roomId);
  }

  return toRoomState(row);
}

export function roomNotFound(roomId: string): AppError {
  return new AppError('room-not-found', {
    detail: `no room ${roomId} that you are a member of`,
  });
}

/** Members, longest-standing first (ties by JID). */
export async function membersOf(db: Queryable, roomId: string): Promise<MemberRow[]> {
  const rows = await db.query<{ jid: string; role: RoomRole; joined_at: Date }[]>(
    'SELECT jid, role, joined_at FROM room_members WHERE room_id = $1 ORDER BY joined_at, jid',
    [roomId],
  );

  return rows.map((row) => ({ jid: row.jid, role: row.role, joinedAt: row.joined_at }));
}

/** Advisory-lock class of "a user's room memberships", so counting them and joining is one step. */
const USER_ROOMS_LOCK = 7622;

/** Serializes joins of one user (in one transaction), then counts the rooms they are in. */
export async function lockedRoomCount(db: Queryable, userId: string): Promise<number> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [USER_ROOMS_LOCK, userId]);
  const rows = await db.query<{ count: number }[]>(
    'SELECT count(*)::int AS count FROM room_members WHERE user_id = $1',
    [userId],
  );

  return rows[0]?.count ?? 0;
}

/** PostgreSQL's foreign_key_violation: a user or room was deleted between lookup and write. */
const FOREIGN_KEY_VIOLATION = '23503';

export function translateRoomWriteError(error: unknown, roomId: string): unknown {
  if (
    error instanceof QueryFailedError &&
    (error.driverError as { code?: string }).code === FOREIGN_KEY_VIOLATION
  ) {
    const constraint = (error.driverError as { constraint?: string }).constraint ?? '';

    return constraint.includes('user_id') || constraint.startsWith('rooms_domain')
      ? new AppError('user-not-found', { detail: 'the user was deleted', cause: error })
      : new AppError('room-not-found', {
          detail: `no room ${roomId} that you are a member of`,
          cause: error,
        });
  }

  return error;
}
