import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { AppConfig } from '#src/config/app-config.js';
import type { MucPresenceNotice } from '#src/routing/cluster-bus.js';
import { RouterService } from '#src/routing/router.service.js';
import type { RoomRole } from '#src/rooms/room-rules.js';
import type { RoomDetails } from '#src/rooms/rooms.service.js';
import { occupantPresence, STATUS } from '#src/xmpp/muc/muc-render.js';
import { MucRoomEvents } from '#src/xmpp/muc/muc-room-events.js';
import {
  deleteOccupant,
  MucState,
  rosterOf,
  setOccupant,
  type LocalOccupant,
} from '#src/xmpp/muc/muc-state.js';
import { OccupantDirectory, type OccupantEntry } from '#src/xmpp/muc/occupant-directory.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

export interface ShownPresence {
  readonly show?: string;
  readonly status?: string;
}

/**
 * XMPP occupants of rooms (XEP-0045 sections 7.2 to 7.14): who is in
 * which room under which nickname, across nodes through the occupant
 * directory and the cluster bus. Messages, departures, role and subject
 * changes come from the rooms service's own pushes to members
 * (MucRoomEvents), so REST and XMPP share one source of truth; only
 * occupant presence travels apart.
 */
@Injectable()
export class MucOccupants implements OnModuleInit {
  private readonly logger = new Logger('XmppMuc');

  constructor(
    private readonly state: MucState,
    private readonly events: MucRoomEvents,
    private readonly directory: OccupantDirectory,
    private readonly router: RouterService,
    private readonly gateway: XmppGateway,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.router.onNotice((message) => {
      if (message.kind === 'muc-presence') {
        this.render(message.presence);
      }
    });
    this.gateway.onSessionEnd((session) => {
      for (const [room, occupants] of [...this.state.local]) {
        if (occupants.has(session.id)) {
          this.leave(session, room).catch((error: unknown) =>
            this.logger.warn({ err: error, room }, 'leaving a room at session end failed'),
          );
        }
      }
    });
  }

  /** The nickname `session` has in `room`, when it is an occupant. */
  nickOf(room: string, sessionId: string): string | undefined {
    return this.state.nickOf(room, sessionId);
  }

  /** The nickname a member's messages show: their occupant's, else their bare JID (never a nickname). */
  senderNick(room: string, jid: string): string {
    return this.state.rosters.get(room)?.nickOf.get(jid) ?? jid;
  }

  /** Nicknames and bare JIDs of the room's occupants on every node. */
  async occupants(room: string): Promise<Map<string, string>> {
    const entries = await this.directory.list(room);

    return new Map(entries.map((entry) => [entry.nick, entry.jid]));
  }

  /**
   * Enters `session` in the room (section 7.2), or changes its presence
   * there when it is in already: 'joined' when the caller owes it history
   * and subject.
   */
  async join(
    session: XmppSession,
    room: RoomDetails,
    nick: string,
    shown: ShownPresence,
  ): Promise<'joined' | 'updated'> {
    const current = this.state.local.get(room.id)?.get(session.id);
    const entry: OccupantEntry = {
      sessionId: session.id,
      jid: session.jid,
      fullJid: session.fullJid,
      nick,
      node: this.config.nodeId,
      ...shown,
    };
    const affiliation = room.members.find((member) => member.jid === session.jid)?.role ?? 'member';
    if (current !== undefined) {
      if (current.nick !== nick) {
        await this.rename(session, room.id, current.nick, entry, affiliation);

        return 'updated';
      }
      await this.directory.put(room.id, entry);
      await this.announce({
        room: room.id,
        nick,
        jid: session.jid,
        affiliation,
        available: true,
        ...shown,
      });

      return 'updated';
    }
    const entries = await this.directory.list(room.id);
    const other = entries.find((item) => item.jid === session.jid && item.nick !== nick);
    if (other !== undefined) {
      throw new StanzaError('not-acceptable', `you are in this room as ${other.nick}`);
    }
    if (!(await this.directory.claimNick(room.id, nick, session.jid))) {
      throw new StanzaError('conflict', 'that nickname is taken in this room');
    }
    await this.directory.put(room.id, entry);
    const roster = this.state.rosters.get(room.id) ?? rosterOf(room, entries);
    this.state.rosters.set(room.id, roster);
    // Section 7.2.3: first the occupants already there, then the newcomer to everyone.
    for (const [otherNick, occupant] of roster.byNick) {
      if (otherNick !== nick) {
        session.send(
          occupantPresence(roster.jid, session.fullJid, {
            nick: otherNick,
            ...occupant,
            available: true,
          }),
        );
      }
    }
    const occupants = this.state.local.get(room.id) ?? new Map<string, LocalOccupant>();
    this.state.local.set(room.id, occupants);
    occupants.set(session.id, { session, nick });
    session.roomEvents = this.events.handle;
    await this.announce({
      room: room.id,
      nick,
      jid: session.jid,
      affiliation,
      available: true,
      ...shown,
      selfCodes: [STATUS.nonAnonymous, STATUS.logged],
    });

    return 'joined';
  }

  /**
   * Section 7.6: the old nickname goes with 303 and the new one, then the
   * occupant comes back under it. Only for a user in the room from this
   * one resource, so no other session of theirs is renamed behind its back.
   */
  private async rename(
    session: XmppSession,
    room: string,
    old: string,
    entry: OccupantEntry,
    affiliation: RoomRole,
  ): Promise<void> {
    const entries = await this.directory.list(room);
    if (entries.some((item) => item.jid === session.jid && item.sessionId !== session.id)) {
      throw new StanzaError('not-acceptable', 'you are in this room from another resource too');
    }
    if (!(await this.directory.claimNick(room, entry.nick, session.jid))) {
      throw new StanzaError('conflict', 'that nickname is taken in this room');
    }
    await this.directory.put(room, entry);
    await this.directory.releaseNick(room, old, session.jid);
    this.state.local.get(room)?.set(session.id, { session, nick: entry.nick });
    const who = { room, jid: session.jid, affiliation };
    await this.announce({
      ...who,
      nick: old,
      available: false,
      codes: [STATUS.nickChanged],
      newNick: entry.nick,
    });
    await this.announce({
      ...who,
      nick: entry.nick,
      available: true,
      ...(entry.show === undefined ? {} : { show: entry.show }),
      ...(entry.status === undefined ? {} : { status: entry.status }),
    });
  }

  /** The session leaves (section 7.14); the nickname goes once no resource of the user holds it. */
  async leave(session: XmppSession, room: string): Promise<void> {
    const occupants = this.state.local.get(room);
    const occupant = occupants?.get(session.id);
    if (occupants === undefined || occupant === undefined) {
      return;
    }
    occupants.delete(session.id);
    await this.directory.remove(room, session.id);
    const roster = this.state.rosters.get(room);
    const affiliation = roster?.byNick.get(occupant.nick)?.affiliation ?? 'member';
    const notice = { room, nick: occupant.nick, jid: session.jid, affiliation, available: false };
    if (roster !== undefined) {
      session.send(
        occupantPresence(roster.jid, session.fullJid, { ...notice, codes: [STATUS.self] }),
      );
    }
    const remaining = await this.directory.list(room);
    if (!remaining.some((entry) => entry.jid === session.jid && entry.nick === occupant.nick)) {
      await this.directory.releaseNick(room, occupant.nick, session.jid);
      await this.announce(notice);
    }
    this.state.forgetIfEmpty(room);
  }

  private async announce(notice: MucPresenceNotice): Promise<void> {
    await this.router.notifyAll({ kind: 'muc-presence', presence: notice });
  }

  /** An occupant came, changed or went, somewhere: tell the occupants here. */
  private render(notice: MucPresenceNotice): void {
    const roster = this.state.rosters.get(notice.room);
    const occupants = this.state.local.get(notice.room);
    if (roster === undefined || occupants === undefined) {
      return;
    }
    if (notice.available) {
      setOccupant(roster, notice.nick, {
        jid: notice.jid,
        affiliation: notice.affiliation,
        ...(notice.show === undefined ? {} : { show: notice.show }),
        ...(notice.status === undefined ? {} : { status: notice.status }),
      });
    } else {
      deleteOccupant(roster, notice.nick);
    }
    for (const { session } of occupants.values()) {
      const own = session.jid === notice.jid;
      session.send(
        occupantPresence(roster.jid, session.fullJid, {
          ...notice,
          codes: own
            ? [STATUS.self, ...(notice.selfCodes ?? []), ...(notice.codes ?? [])]
            : (notice.codes ?? []),
        }),
      );
    }
  }
}
