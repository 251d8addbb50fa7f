import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { DomainsService, parseDomainName } from '#src/accounts/domains.service.js';
import type { UserRef } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { messageIds, timestampOf } from '#src/common/ids.js';
import { roomConversation } from '#src/events/event-catalogue.js';
import { AppConfig } from '#src/config/app-config.js';
import {
  DEFAULT_ROOM_SETTINGS,
  mayDo,
  type RoomAction,
  type RoomRole,
  type RoomSettings,
  withSettings,
} from '#src/rooms/room-rules.js';
import {
  lockedRoomCount,
  membersOf,
  membershipOf,
  ROOM_COLUMNS,
  roomById,
  toRoomState,
  type MemberRow,
  type RoomState,
} from '#src/rooms/room-store.js';
import { RoomTransaction, RoomWriter } from '#src/rooms/room-writer.service.js';

export interface NewRoom {
  /** Chosen by the creator; generated when absent. */
  readonly id?: string;
  readonly name: string;
  readonly subject?: string;
  readonly settings?: Partial<RoomSettings>;
}

export interface RoomConfigChange {
  readonly name?: string;
  readonly subject?: string;
  readonly settings?: Partial<RoomSettings>;
}

export interface RoomDetails extends RoomState {
  readonly members: readonly MemberRow[];
}

export interface RoomListing extends RoomState {
  readonly memberCount: number;
}

/**
 * Who acts: a member, or `null` for an administrator, who may do anything
 * and is named nowhere in the archive or events.
 */
export type RoomActor = UserRef | null;

/** Creating, reading, configuring and destroying rooms. Membership is RoomMembersService's. */
@Injectable()
export class RoomsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: RoomWriter,
    private readonly domains: DomainsService,
    private readonly config: AppConfig,
  ) {}

  /** Creates a room in the owner's domain with the owner as its one member. */
  async create(owner: UserRef, room: NewRoom, actor: RoomActor): Promise<RoomState> {
    const id = room.id ?? messageIds.next();
    const domain = owner.jid.slice(owner.jid.indexOf('@') + 1);
    const settings = withSettings(DEFAULT_ROOM_SETTINGS, room.settings);
    const subject = room.subject ?? '';

    return this.writer.run(id, async (tx) => {
      if ((await lockedRoomCount(tx.manager, owner.id)) >= this.config.rooms.maxPerUser) {
        throw roomLimitReached(owner.jid, this.config.rooms.maxPerUser);
      }
      const inserted = await tx.manager.query<{ created_at: Date }[]>(
        `INSERT INTO rooms (id, domain, name, subject, configure_by, invite_by, remove_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING created_at`,
        [id, domain, room.name, subject, settings.configure, settings.invite, settings.remove],
      );
      if (inserted[0] === undefined) {
        throw new AppError('room-exists', { detail: `a room ${id} exists already` });
      }
      await tx.manager.query(
        `INSERT INTO room_members (room_id, jid, user_id, role) VALUES ($1, $2, $3, 'owner')`,
        [id, owner.jid, owner.id],
      );
      const by = actor?.jid ?? null;
      const created = await tx.append(id, {
        kind: 'room_created',
        sender: by,
        data: { name: room.name, subject, settings },
      });
      const joined = await tx.append(id, {
        kind: 'member_joined',
        sender: by,
        member: owner.jid,
        data: { role: 'owner' },
      });
      tx.record({
        type: 'room.created',
        domain,
        conversation: roomConversation(id),
        data: { room: id, name: room.name, subject, owner: owner.jid },
      });
      tx.push([owner.jid], { event: 'room:updated', data: created });
      tx.push([owner.jid], { event: 'room:member', data: joined });

      return { id, domain, name: room.name, subject, settings, createdAt: inserted[0].created_at };
    });
  }

  /** The rooms a user is in (at most ROOMS_MAX_PER_USER, so one answer). */
  async roomsOf(user: UserRef): Promise<RoomState[]> {
    const rows = await this.dataSource.query<Parameters<typeof toRoomState>[0][]>(
      `SELECT ${ROOM_COLUMNS} FROM room_members m JOIN rooms r ON r.id = m.room_id
       WHERE m.user_id = $1 ORDER BY r.id`,
      [user.id],
    );

    return rows.map(toRoomState);
  }

  async details(roomId: string, viewer: RoomActor): Promise<RoomDetails> {
    const room =
      viewer === null
        ? await roomById(this.dataSource, roomId)
        : (await membershipOf(this.dataSource, roomId, viewer.jid)).room;

    return { ...room, members: await membersOf(this.dataSource, roomId) };
  }

  /** Changes name, subject or settings; the archive and every member hear of it. */
  async configure(
    roomId: string,
    actor: RoomActor,
    change: RoomConfigChange,
  ): Promise<RoomDetails> {
    if (
      change.name === undefined &&
      change.subject === undefined &&
      change.settings === undefined
    ) {
      throw new AppError('validation', {
        detail: 'give at least one of name, subject and settings',
        fields: [{ name: 'name', reason: 'one of name, subject and settings is required' }],
      });
    }
    await this.writer.run(roomId, async (tx) => {
      const { room, role } = await lockForChange(tx, roomId, actor);
      if (change.name !== undefined || change.subject !== undefined) {
        assertMay(role, { kind: 'configure' }, room.settings);
      }
      if (change.settings !== undefined) {
        assertMay(role, { kind: 'change-settings' }, room.settings);
      }
      const next = {
        name: change.name ?? room.name,
        subject: change.subject ?? room.subject,
        settings: withSettings(room.settings, change.settings),
      };
      if (!sameConfig(next, room)) {
        await applyConfig(tx, room, next, actor);
      }
    });

    return this.details(roomId, actor);
  }

  /** Destroys a room with its archive: owners and administrators only. */
  async destroy(roomId: string, actor: RoomActor): Promise<void> {
    await this.writer.run(roomId, async (tx) => {
      const { room, role } = await lockForChange(tx, roomId, actor);
      assertMay(role, { kind: 'destroy' }, room.settings);
      const members = await membersOf(tx.manager, roomId);
      await destroyRoom(
        tx,
        room,
        members.map((member) => member.jid),
        actor?.jid,
      );
    });
  }

  /** One domain's rooms by id, a page at a time. */
  async listDomain(
    domainName: string,
    limit: number,
    after?: string,
  ): Promise<{ rooms: RoomListing[]; next?: string }> {
    const domain = parseDomainName(domainName);
    await this.domains.assertExists(domain);
    const rows = await this.dataSource.query<
      (Parameters<typeof toRoomState>[0] & { member_count: number })[]
    >(
      `SELECT ${ROOM_COLUMNS},
         (SELECT count(*)::int FROM room_members m WHERE m.room_id = r.id) AS member_count
       FROM rooms r WHERE r.domain = $1 AND ($2::text IS NULL OR r.id > $2)
       ORDER BY r.id LIMIT $3`,
      [domain, after ?? null, limit + 1],
    );
    const rooms = rows
      .slice(0, limit)
      .map((row) => ({ ...toRoomState(row), memberCount: row.member_count }));

    return { rooms, ...(rows.length > limit ? { next: rooms.at(-1)?.id } : {}) };
  }
}

interface RoomConfig {
  readonly name: string;
  readonly subject: string;
  readonly settings: RoomSettings;
}

function sameConfig(a: RoomConfig, b: RoomConfig): boolean {
  return (
    a.name === b.name &&
    a.subject === b.subject &&
    JSON.stringify(a.settings) === JSON.stringify(b.settings)
  );
}

/** Stores the new configuration with its archive entry and event, and tells every member. */
async function applyConfig(
  tx: RoomTransaction,
  room: RoomState,
  next: RoomConfig,
  actor: RoomActor,
): Promise<void> {
  await tx.manager.query(
    `UPDATE rooms SET name = $2, subject = $3, configure_by = $4, invite_by = $5, remove_by = $6
     WHERE id = $1`,
    [
      room.id,
      next.name,
      next.subject,
      next.settings.configure,
      next.settings.invite,
      next.settings.remove,
    ],
  );
  const entry = await tx.append(room.id, {
    kind: 'config_changed',
    sender: actor?.jid ?? null,
    data: next,
  });
  tx.record({
    type: 'room.config_changed',
    domain: room.domain,
    conversation: roomConversation(room.id),
    data: { room: room.id, ...next, ...(actor === null ? {} : { by: actor.jid }) },
  });
  const members = await membersOf(tx.manager, room.id);
  tx.push(
    members.map((member) => member.jid),
    { event: 'room:updated', data: entry },
  );
}

/**
 * Locks the room for a change by `actor`: as a member (refused like a
 * missing room when not one) or as an administrator, who acts as an owner.
 */
export async function lockForChange(
  tx: RoomTransaction,
  roomId: string,
  actor: RoomActor,
): Promise<{ room: RoomState; role: RoomRole }> {
  if (actor === null) {
    return { room: await roomById(tx.manager, roomId, true), role: 'owner' };
  }

  return membershipOf(tx.manager, roomId, actor.jid, true);
}

export function assertMay(role: RoomRole, action: RoomAction, settings: RoomSettings): void {
  if (!mayDo(role, action, settings)) {
    throw new AppError('room-forbidden', {
      detail: `a ${role} may not ${describe(action)} in this room`,
    });
  }
}

function describe(action: RoomAction): string {
  switch (action.kind) {
    case 'configure':
      return 'change the name or subject';
    case 'change-settings':
      return 'change the settings';
    case 'destroy':
      return 'destroy the room';
    case 'invite':
      return action.role === 'owner' ? 'add an owner' : 'add members';
    case 'remove':
      return action.target === 'owner' ? 'remove an owner' : 'remove members';
  }
}

/** Deletes the room (its members and archive go with it) and tells everyone who was in it. */
export async function destroyRoom(
  tx: RoomTransaction,
  room: RoomState,
  formerMembers: readonly string[],
  by: string | undefined,
): Promise<void> {
  await tx.manager.query(
    `WITH entries AS (
       DELETE FROM inbox_entries
       WHERE owner_id IN (SELECT user_id FROM room_members WHERE room_id = $1)
         AND kind = 'room' AND conversation = $1
     ), markers AS (
       DELETE FROM chat_markers WHERE kind = 'room' AND conversation = $1
     )
     DELETE FROM rooms WHERE id = $1`,
    [room.id],
  );
  tx.record({
    type: 'room.destroyed',
    domain: room.domain,
    conversation: roomConversation(room.id),
    data: { room: room.id, ...(by === undefined ? {} : { by }) },
  });
  const id = messageIds.next();
  tx.push(formerMembers, {
    event: 'room:destroyed',
    data: { id, room: room.id, timestamp: timestampOf(id), ...(by === undefined ? {} : { by }) },
  });
}

export function roomLimitReached(jid: string, max: number): AppError {
  return new AppError('room-limit-reached', {
    detail: `${jid} is in ${max} rooms, the most ROOMS_MAX_PER_USER allows`,
  });
}
