import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { AppConfig } from '#src/config/app-config.js';
import type { MucPresenceNotice } from '#src/routing/cluster-bus.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery } from '#src/routing/server-events.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import type { RoomRole } from '#src/rooms/room-rules.js';
import type { RoomDetails } from '#src/rooms/rooms.service.js';
import {
  configChangedMessage,
  groupchatMessage,
  occupantPresence,
  roomJid,
  STATUS,
  subjectMessage,
} from '#src/xmpp/muc/muc-render.js';
import { OccupantDirectory, type OccupantEntry } from '#src/xmpp/muc/occupant-directory.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

interface LocalOccupant {
  readonly session: XmppSession;
  readonly nick: string;
}

interface RosterEntry {
  readonly jid: string;
  affiliation: RoomRole;
  show?: string;
  status?: string;
}

/** A node's view of one room's occupants on every node, kept while it has occupants of its own. */
interface RoomRoster {
  readonly jid: string;
  name: string;
  subject: string;
  readonly byNick: Map<string, RosterEntry>;
  readonly nickOf: Map<string, string>;
}

export interface ShownPresence {
  readonly show?: string;
  readonly status?: string;
}

/**
 * XMPP occupants of rooms (XEP-0045 sections 7.2 to 7.14): who is in
 * which room under which nickname, across nodes through the occupant
 * directory and the cluster bus, and the room's events as the occupants
 * here see them. Messages, joins, departures, role and subject changes
 * come from the rooms service's own pushes to members, so REST and XMPP
 * share one source of truth; only occupant presence travels apart.
 */
@Injectable()
export class MucOccupants implements OnModuleInit {
  private readonly logger = new Logger('XmppMuc');
  /** Room id, then session id: the occupants on this node. */
  private readonly local = new Map<string, Map<string, LocalOccupant>>();
  private readonly rosters = new Map<string, RoomRoster>();
  /** Room changes reach every member session here with one shared payload: handle each once. */
  private readonly handled = new WeakSet<object>();

  constructor(
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
      for (const [room, occupants] of [...this.local]) {
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
    return this.local.get(room)?.get(sessionId)?.nick;
  }

  /** The nickname a member's messages show: their occupant's, else their bare JID (never a nickname). */
  senderNick(room: string, jid: string): string {
    return this.rosters.get(room)?.nickOf.get(jid) ?? jid;
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
    const current = this.local.get(room.id)?.get(session.id);
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
    const roster = this.rosters.get(room.id) ?? rosterOf(room, entries);
    this.rosters.set(room.id, roster);
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
    const occupants = this.local.get(room.id) ?? new Map<string, LocalOccupant>();
    this.local.set(room.id, occupants);
    occupants.set(session.id, { session, nick });
    session.roomEvents = this.onRoomEvent;
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
    this.local.get(room)?.set(session.id, { session, nick: entry.nick });
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
    const occupants = this.local.get(room);
    const occupant = occupants?.get(session.id);
    if (occupants === undefined || occupant === undefined) {
      return;
    }
    occupants.delete(session.id);
    await this.directory.remove(room, session.id);
    const roster = this.rosters.get(room);
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
    this.forgetIfEmpty(room);
  }

  private async announce(notice: MucPresenceNotice): Promise<void> {
    await this.router.notifyAll({ kind: 'muc-presence', presence: notice });
  }

  /** An occupant came, changed or went, somewhere: tell the occupants here. */
  private render(notice: MucPresenceNotice): void {
    const roster = this.rosters.get(notice.room);
    const occupants = this.local.get(notice.room);
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

  /** What the rooms service pushes to a member session that is an occupant here. */
  private readonly onRoomEvent = (session: XmppSession, delivery: Delivery): void => {
    if (delivery.event === 'room:message') {
      this.message(session, delivery.data);

      return;
    }
    if (this.handled.has(delivery.data)) {
      return;
    }
    this.handled.add(delivery.data);
    this.roomChanged(delivery).catch((error: unknown) =>
      this.logger.warn({ err: error, event: delivery.event }, 'room change not rendered'),
    );
  };

  private message(session: XmppSession, view: RoomMessageView): void {
    const roster = this.rosters.get(view.room);
    if (
      view.kind !== 'message' ||
      roster === undefined ||
      this.nickOf(view.room, session.id) === undefined
    ) {
      return;
    }
    const nick = this.senderNick(view.room, view.from ?? roster.jid);
    session.send(
      groupchatMessage(roster.jid, nick, session.fullJid, view, {
        ...(view.client_id === undefined ? {} : { id: view.client_id }),
      }),
    );
  }

  private async roomChanged(delivery: Delivery): Promise<void> {
    switch (delivery.event) {
      case 'room:member': {
        const entry = delivery.data;
        if (entry.member === undefined) {
          return;
        }
        if (entry.kind === 'member_left' || entry.kind === 'member_removed') {
          // Section 9.4 and 9.8: whoever is no longer a member is out of the room.
          await this.expel(entry.room, entry.member);
        } else if (entry.kind === 'role_changed' && entry.role !== undefined) {
          this.affiliationChanged(entry.room, entry.member, entry.role);
        }

        return;
      }
      case 'room:updated':
        this.configChanged(delivery.data);

        return;
      case 'room:destroyed':
        await this.destroyed(delivery.data.room);

        return;
      default:
        return;
    }
  }

  private async expel(room: string, jid: string): Promise<void> {
    const roster = this.rosters.get(room);
    const occupants = this.local.get(room);
    if (roster === undefined || occupants === undefined) {
      return;
    }
    const nick = roster.nickOf.get(jid);
    const gone = { jid, affiliation: 'none' as const, available: false };
    for (const [sessionId, { session, nick: own }] of [...occupants]) {
      if (session.jid === jid) {
        occupants.delete(sessionId);
        await this.directory.remove(room, sessionId);
        await this.directory.releaseNick(room, own, jid);
        session.send(
          occupantPresence(roster.jid, session.fullJid, {
            ...gone,
            nick: own,
            codes: [STATUS.self, STATUS.affiliationChanged],
          }),
        );
      }
    }
    if (nick !== undefined) {
      deleteOccupant(roster, nick);
      for (const { session } of occupants.values()) {
        session.send(
          occupantPresence(roster.jid, session.fullJid, {
            ...gone,
            nick,
            codes: [STATUS.affiliationChanged],
          }),
        );
      }
    }
    this.forgetIfEmpty(room);
  }

  private affiliationChanged(room: string, jid: string, role: RoomRole): void {
    const roster = this.rosters.get(room);
    const nick = roster?.nickOf.get(jid);
    const occupant = nick === undefined ? undefined : roster?.byNick.get(nick);
    if (roster === undefined || nick === undefined || occupant === undefined) {
      return;
    }
    occupant.affiliation = role;
    for (const { session } of this.local.get(room)?.values() ?? []) {
      session.send(
        occupantPresence(roster.jid, session.fullJid, {
          nick,
          ...occupant,
          available: true,
          codes: session.jid === jid ? [STATUS.self] : [],
        }),
      );
    }
  }

  private configChanged(entry: RoomMessageView): void {
    const roster = this.rosters.get(entry.room);
    if (roster === undefined || entry.kind !== 'config_changed') {
      return;
    }
    const occupants = [...(this.local.get(entry.room)?.values() ?? [])];
    if (entry.subject !== undefined && entry.subject !== roster.subject) {
      roster.subject = entry.subject;
      const nick = entry.from === undefined ? undefined : this.senderNick(entry.room, entry.from);
      occupants.forEach(({ session }) =>
        session.send(subjectMessage(roster.jid, session.fullJid, entry.subject ?? '', nick)),
      );
    }
    if (entry.name !== undefined && entry.name !== roster.name) {
      roster.name = entry.name;
      occupants.forEach(({ session }) =>
        session.send(configChangedMessage(roster.jid, session.fullJid)),
      );
    }
  }

  /** Section 10.9: every occupant hears that the room is gone. */
  private async destroyed(room: string): Promise<void> {
    const roster = this.rosters.get(room);
    const occupants = this.local.get(room);
    this.local.delete(room);
    this.rosters.delete(room);
    if (roster === undefined || occupants === undefined) {
      return;
    }
    for (const [sessionId, { session, nick }] of occupants) {
      session.send(
        occupantPresence(roster.jid, session.fullJid, {
          nick,
          jid: session.jid,
          affiliation: 'none',
          available: false,
          destroyed: true,
          codes: [STATUS.self],
        }),
      );
      await this.directory.remove(room, sessionId);
      await this.directory.releaseNick(room, nick, session.jid);
    }
  }

  private forgetIfEmpty(room: string): void {
    if (this.local.get(room)?.size === 0) {
      this.local.delete(room);
      this.rosters.delete(room);
    }
  }
}

function rosterOf(room: RoomDetails, entries: readonly OccupantEntry[]): RoomRoster {
  const roster: RoomRoster = {
    jid: roomJid(room),
    name: room.name,
    subject: room.subject,
    byNick: new Map(),
    nickOf: new Map(),
  };
  const roles = new Map(room.members.map((member) => [member.jid, member.role]));
  for (const entry of entries) {
    const affiliation = roles.get(entry.jid);
    if (affiliation !== undefined) {
      setOccupant(roster, entry.nick, {
        jid: entry.jid,
        affiliation,
        ...(entry.show === undefined ? {} : { show: entry.show }),
        ...(entry.status === undefined ? {} : { status: entry.status }),
      });
    }
  }

  return roster;
}

function setOccupant(roster: RoomRoster, nick: string, entry: RosterEntry): void {
  roster.byNick.set(nick, entry);
  roster.nickOf.set(entry.jid, nick);
}

function deleteOccupant(roster: RoomRoster, nick: string): void {
  const entry = roster.byNick.get(nick);
  roster.byNick.delete(nick);
  if (entry !== undefined && roster.nickOf.get(entry.jid) === nick) {
    roster.nickOf.delete(entry.jid);
  }
}
