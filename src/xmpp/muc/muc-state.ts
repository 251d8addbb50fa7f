import { Injectable } from '@nestjs/common';

import type { RoomRole } from '#src/rooms/room-rules.js';
import type { RoomDetails } from '#src/rooms/rooms.service.js';
import { roomJid } from '#src/xmpp/muc/muc-render.js';
import type { OccupantEntry } from '#src/xmpp/muc/occupant-directory.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';

export interface LocalOccupant {
  readonly session: XmppSession;
  readonly nick: string;
}

export interface RosterEntry {
  readonly jid: string;
  affiliation: RoomRole;
  show?: string;
  status?: string;
}

/** A node's view of one room's occupants on every node, kept while it has occupants of its own. */
export interface RoomRoster {
  readonly jid: string;
  name: string;
  subject: string;
  readonly byNick: Map<string, RosterEntry>;
  readonly nickOf: Map<string, string>;
}

/**
 * What this node knows of rooms it has XMPP occupants in: its own
 * occupants by room and session, and every node's occupants of those
 * rooms (nickname, JID, affiliation, presence) as presence notices told it.
 */
@Injectable()
export class MucState {
  /** Room id, then session id: the occupants on this node. */
  readonly local = new Map<string, Map<string, LocalOccupant>>();
  readonly rosters = new Map<string, RoomRoster>();

  /** The nickname `session` has in `room`, when it is an occupant. */
  nickOf(room: string, sessionId: string): string | undefined {
    return this.local.get(room)?.get(sessionId)?.nick;
  }

  /** The nickname a member's messages show: their occupant's, else their bare JID (never a nickname). */
  senderNick(room: string, jid: string): string {
    return this.rosters.get(room)?.nickOf.get(jid) ?? jid;
  }

  forgetIfEmpty(room: string): void {
    if (this.local.get(room)?.size === 0) {
      this.local.delete(room);
      this.rosters.delete(room);
    }
  }
}

export function rosterOf(room: RoomDetails, entries: readonly OccupantEntry[]): RoomRoster {
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

export function setOccupant(roster: RoomRoster, nick: string, entry: RosterEntry): void {
  roster.byNick.set(nick, entry);
  roster.nickOf.set(entry.jid, nick);
}

export function deleteOccupant(roster: RoomRoster, nick: string): void {
  const entry = roster.byNick.get(nick);
  roster.byNick.delete(nick);
  if (entry !== undefined && roster.nickOf.get(entry.jid) === nick) {
    roster.nickOf.delete(entry.jid);
  }
}
