import { Injectable } from '@nestjs/common';

import { JidError, normalizeUserJid } from '#src/common/jid.js';
import { RoomMembersService } from '#src/rooms/room-members.service.js';
import type { RoomRole } from '#src/rooms/room-rules.js';
import type { RoomDetails } from '#src/rooms/rooms.service.js';
import { mucStanzaError } from '#src/xmpp/muc/muc-access.js';
import { MucOccupants } from '#src/xmpp/muc/muc-occupants.service.js';
import { roleOf } from '#src/xmpp/muc/muc-render.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * The muc#admin lists and changes (XEP-0045 sections 9 and 10) mapped onto
 * the room's two roles: owners and members, added and removed through
 * RoomMembersService under the room's settings.
 */
@Injectable()
export class MucAffiliations {
  constructor(
    private readonly members: RoomMembersService,
    private readonly occupants: MucOccupants,
  ) {}

  /** Section 9.5 and 10.5: owners and members; the room has no admins or outcasts. */
  async list(room: RoomDetails, payload: XmlElement): Promise<XmlElement> {
    const items = payload.elements().filter((item) => item.is('item', NS.mucAdmin));
    if (items.length !== 1) {
      throw new StanzaError('bad-request', 'ask for one affiliation or role');
    }
    const item = items[0]!;
    const occupants = await this.occupants.occupants(room.id);
    const nicks = new Map([...occupants].map(([nick, jid]) => [jid, nick]));
    const affiliation = item.attr('affiliation');
    const role = item.attr('role');
    let members: readonly { jid: string; role: RoomRole }[];
    if (affiliation === 'owner' || affiliation === 'member') {
      members = room.members.filter((member) => member.role === affiliation);
    } else if (affiliation === 'admin' || affiliation === 'outcast') {
      members = [];
    } else if (role === 'moderator' || role === 'participant') {
      members = room.members.filter(
        (member) => nicks.has(member.jid) && roleOf(member.role) === role,
      );
    } else if (role === 'visitor' || role === 'none') {
      members = [];
    } else {
      throw new StanzaError('bad-request', 'no such affiliation or role');
    }

    return el(
      'query',
      NS.mucAdmin,
      {},
      ...members.map((member) =>
        el('item', NS.mucAdmin, {
          affiliation: member.role,
          jid: member.jid,
          nick: nicks.get(member.jid),
          role: nicks.has(member.jid) ? roleOf(member.role) : undefined,
        }),
      ),
    );
  }

  /**
   * Section 9.3, 9.4, 10.3: `member` and `owner` add someone who is not a
   * member yet, `none` removes a member, each under the room's
   * permissions. One item per request, so a refusal leaves nothing half done.
   */
  async change(session: XmppSession, room: RoomDetails, payload: XmlElement): Promise<undefined> {
    const items = payload.elements().filter((item) => item.is('item', NS.mucAdmin));
    if (items.length !== 1) {
      throw new StanzaError('bad-request', 'change one affiliation at a time');
    }
    const item = items[0]!;
    const affiliation = item.attr('affiliation');
    if (affiliation === undefined) {
      throw new StanzaError('not-allowed', 'roles follow affiliations here');
    }
    const jid = await this.targetOf(room, item);
    const current = room.members.find((member) => member.jid === jid);
    try {
      if (affiliation === 'none') {
        if (current !== undefined) {
          await this.members.remove(room.id, session.user, jid);
        }
      } else if (affiliation === 'member' || affiliation === 'owner') {
        if (current === undefined) {
          await this.members.add(room.id, session.user, jid, affiliation);
        } else if (current.role !== affiliation) {
          throw new StanzaError(
            'feature-not-implemented',
            'changing the role of a member is not offered; remove and add again',
          );
        }
      } else {
        throw new StanzaError('not-allowed', 'the room has owners and members only');
      }
    } catch (error: unknown) {
      throw mucStanzaError(error);
    }

    return undefined;
  }

  /** The bare JID an admin item names, by `jid` or by an occupant's `nick`. */
  private async targetOf(room: RoomDetails, item: XmlElement): Promise<string> {
    const jid = item.attr('jid');
    if (jid !== undefined) {
      try {
        return normalizeUserJid(jid.split('/')[0]!);
      } catch (error: unknown) {
        if (error instanceof JidError) {
          throw new StanzaError('jid-malformed', error.reason);
        }
        throw error;
      }
    }
    const nick = item.attr('nick');
    const byNick =
      nick === undefined ? undefined : (await this.occupants.occupants(room.id)).get(nick);
    if (byNick === undefined) {
      throw new StanzaError('bad-request', 'name the member by jid (or an occupant by nick)');
    }

    return byNick;
  }
}
