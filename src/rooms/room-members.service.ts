import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import { DomainsService } from '#src/accounts/domains.service.js';
import { parseUserAddress, UserRef, UsersService } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { AppConfig } from '#src/config/app-config.js';
import { roomConversation } from '#src/events/event-catalogue.js';
import type { LeaveReason } from '#src/rooms/room-message-view.js';
import { nextOwner, type RoomRole } from '#src/rooms/room-rules.js';
import {
  lockedRoomCount,
  membersOf,
  membershipOf,
  roomById,
  type RoomState,
} from '#src/rooms/room-store.js';
import { RoomTransaction, RoomWriter } from '#src/rooms/room-writer.service.js';
import {
  assertMay,
  destroyRoom,
  lockForChange,
  roomLimitReached,
  type RoomActor,
} from '#src/rooms/rooms.service.js';

/** Joining and leaving: adds, removals, ownership handed on, empty rooms destroyed. */
@Injectable()
export class RoomMembersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: RoomWriter,
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly config: AppConfig,
  ) {
    users.onDelete((manager, user) => this.userDeleted(manager, user));
  }

  /** Adds a user of any served domain; adding an owner takes an owner. */
  async add(roomId: string, actor: RoomActor, userJid: string, role: RoomRole): Promise<void> {
    const jid = parseUserAddress(userJid, 'user');
    // Membership before the user lookup, so a non-member learns nothing about the room.
    if (actor !== null) {
      const { room, role: actorRole } = await membershipOf(this.dataSource, roomId, actor.jid);
      assertMay(actorRole, { kind: 'invite', role }, room.settings);
    }
    const user = await this.existingUser(jid, 'user');
    await this.writer.run(roomId, async (tx) => {
      const { room, role: actorRole } = await lockForChange(tx, roomId, actor);
      assertMay(actorRole, { kind: 'invite', role }, room.settings);
      const members = await membersOf(tx.manager, roomId);
      if (members.some((member) => member.jid === jid)) {
        throw new AppError('room-member-exists', { detail: `${jid} is in room ${roomId}` });
      }
      if (members.length >= this.config.rooms.maxMembers) {
        throw new AppError('room-full', {
          detail: `room ${roomId} has ${members.length} members, the most ROOM_MAX_MEMBERS allows`,
        });
      }
      if ((await lockedRoomCount(tx.manager, user.id)) >= this.config.rooms.maxPerUser) {
        throw roomLimitReached(jid, this.config.rooms.maxPerUser);
      }
      await tx.manager.query(
        'INSERT INTO room_members (room_id, jid, user_id, role) VALUES ($1, $2, $3, $4)',
        [roomId, jid, user.id, role],
      );
      const entry = await tx.append(roomId, {
        kind: 'member_joined',
        sender: actor?.jid ?? null,
        member: jid,
        data: { role },
      });
      tx.record({
        type: 'room.member_added',
        domain: room.domain,
        conversation: roomConversation(roomId),
        data: { room: roomId, member: jid, role, ...(actor === null ? {} : { by: actor.jid }) },
      });
      tx.push([...members.map((member) => member.jid), jid], { event: 'room:member', data: entry });
    });
  }

  /** Removes a member, or lets one leave (always allowed). */
  async remove(roomId: string, actor: RoomActor, memberJid: string): Promise<void> {
    const jid = parseUserAddress(memberJid, 'user');
    await this.writer.run(roomId, async (tx) => {
      const { room, role: actorRole } = await lockForChange(tx, roomId, actor);
      const members = await membersOf(tx.manager, roomId);
      const target = members.find((member) => member.jid === jid);
      if (target === undefined) {
        throw new AppError('room-member-not-found', { detail: `${jid} is not in room ${roomId}` });
      }
      const self = actor?.jid === jid;
      assertMay(actorRole, { kind: 'remove', target: target.role, self }, room.settings);
      await this.depart(tx, room, jid, self ? 'left' : 'removed', self ? undefined : actor?.jid);
    });
  }

  /** In the transaction deleting a user: each of their rooms records the departure and finds a new owner. */
  private async userDeleted(
    manager: EntityManager,
    user: UserRef,
  ): Promise<(() => Promise<void>) | undefined> {
    const rooms = await manager.query<{ room_id: string }[]>(
      'SELECT room_id FROM room_members WHERE user_id = $1 ORDER BY room_id',
      [user.id],
    );
    if (rooms.length === 0) {
      return undefined;
    }
    const change = await this.writer.within(manager, async (tx) => {
      for (const { room_id: roomId } of rooms) {
        const room = await roomById(tx.manager, roomId, true);
        await this.depart(tx, room, user.jid, 'account_deleted', undefined);
      }
    });

    return change.afterCommit;
  }

  /**
   * Takes `jid` out of a locked room and records it. The room goes when
   * nobody is left; when no owner is, the longest-standing member becomes one.
   */
  private async depart(
    tx: RoomTransaction,
    room: RoomState,
    jid: string,
    reason: LeaveReason,
    by: string | undefined,
  ): Promise<void> {
    // The member's inbox entry and markers of the room go with the membership.
    await tx.manager.query(
      `WITH gone AS (
         DELETE FROM room_members WHERE room_id = $1 AND jid = $2 RETURNING user_id
       ), entries AS (
         DELETE FROM inbox_entries WHERE owner_id IN (SELECT user_id FROM gone) AND kind = 'room' AND conversation = $1
       )
       DELETE FROM chat_markers WHERE owner_id IN (SELECT user_id FROM gone) AND kind = 'room' AND conversation = $1`,
      [room.id, jid],
    );
    tx.record({
      type: 'room.member_removed',
      domain: room.domain,
      conversation: roomConversation(room.id),
      data: { room: room.id, member: jid, reason, ...(by === undefined ? {} : { by }) },
    });
    const remaining = await membersOf(tx.manager, room.id);
    if (remaining.length === 0) {
      await destroyRoom(tx, room, [jid], undefined);

      return;
    }
    const audience = remaining.map((member) => member.jid);
    const departure = await tx.append(room.id, {
      kind: reason === 'removed' ? 'member_removed' : 'member_left',
      sender: reason === 'left' ? jid : (by ?? null),
      member: jid,
      data: { reason },
    });
    tx.push([...audience, jid], { event: 'room:member', data: departure });
    const owner = nextOwner(remaining);
    if (owner !== undefined) {
      await tx.manager.query(
        `UPDATE room_members SET role = 'owner' WHERE room_id = $1 AND jid = $2`,
        [room.id, owner],
      );
      const promotion = await tx.append(room.id, {
        kind: 'role_changed',
        sender: null,
        member: owner,
        data: { role: 'owner' },
      });
      tx.push(audience, { event: 'room:member', data: promotion });
    }
  }

  /** A user of a served, enabled domain, named by `field` of the request. */
  async existingUser(jid: string, field: string): Promise<UserRef> {
    const domain = jid.slice(jid.indexOf('@') + 1);
    const user =
      (await this.domains.isEnabled(domain)) === true ? await this.users.findByJid(jid) : undefined;
    if (user === undefined) {
      throw new AppError('user-not-found', {
        detail: `${jid} does not exist`,
        fields: [{ name: field, reason: 'no such user' }],
      });
    }

    return user;
  }
}
