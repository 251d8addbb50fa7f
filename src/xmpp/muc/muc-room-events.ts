import { Injectable, Logger } from '@nestjs/common';

import type { Delivery } from '#src/routing/server-events.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import type { RoomRole } from '#src/rooms/room-rules.js';
import {
  configChangedMessage,
  groupchatMessage,
  occupantPresence,
  STATUS,
  subjectMessage,
} from '#src/xmpp/muc/muc-render.js';
import { deleteOccupant, MucState } from '#src/xmpp/muc/muc-state.js';
import { OccupantDirectory } from '#src/xmpp/muc/occupant-directory.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';

/**
 * What the rooms service pushes to members, as the XMPP occupants on this
 * node see it: messages (each session renders its own), and membership,
 * role, subject and name changes and destruction (once per node, however
 * many member sessions here received the same push).
 */
@Injectable()
export class MucRoomEvents {
  private readonly logger = new Logger('XmppMuc');
  /** Room changes reach every member session here with one shared payload: handle each once. */
  private readonly handled = new WeakSet<object>();

  constructor(
    private readonly state: MucState,
    private readonly directory: OccupantDirectory,
  ) {}

  /** What the rooms service pushes to a member session that is an occupant here. */
  readonly handle = (session: XmppSession, delivery: Delivery): void => {
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
    const roster = this.state.rosters.get(view.room);
    if (
      view.kind !== 'message' ||
      roster === undefined ||
      this.state.nickOf(view.room, session.id) === undefined
    ) {
      return;
    }
    const nick = this.state.senderNick(view.room, view.from ?? roster.jid);
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
    const roster = this.state.rosters.get(room);
    const occupants = this.state.local.get(room);
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
    this.state.forgetIfEmpty(room);
  }

  private affiliationChanged(room: string, jid: string, role: RoomRole): void {
    const roster = this.state.rosters.get(room);
    const nick = roster?.nickOf.get(jid);
    const occupant = nick === undefined ? undefined : roster?.byNick.get(nick);
    if (roster === undefined || nick === undefined || occupant === undefined) {
      return;
    }
    occupant.affiliation = role;
    for (const { session } of this.state.local.get(room)?.values() ?? []) {
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
    const roster = this.state.rosters.get(entry.room);
    if (roster === undefined || entry.kind !== 'config_changed') {
      return;
    }
    const occupants = [...(this.state.local.get(entry.room)?.values() ?? [])];
    if (entry.subject !== undefined && entry.subject !== roster.subject) {
      roster.subject = entry.subject;
      const nick =
        entry.from === undefined ? undefined : this.state.senderNick(entry.room, entry.from);
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
    const roster = this.state.rosters.get(room);
    const occupants = this.state.local.get(room);
    this.state.local.delete(room);
    this.state.rosters.delete(room);
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
}
