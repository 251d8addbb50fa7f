import { Injectable } from '@nestjs/common';

import { lowestIdAt } from '#src/common/ids.js';
import { JidError, normalizeUserJid } from '#src/common/jid.js';
import { RoomMembersService } from '#src/rooms/room-members.service.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import type { RoomRole } from '#src/rooms/room-rules.js';
import { RoomsService, type RoomDetails } from '#src/rooms/rooms.service.js';
import { form, maxId, minId, parseQuery } from '#src/xmpp/handlers/mam.handler.js';
import { memberRoom, mucStanzaError, type MucAddress } from '#src/xmpp/muc/muc-access.js';
import { MucOccupants } from '#src/xmpp/muc/muc-occupants.service.js';
import { groupchatMessage, roleOf, roomJid } from '#src/xmpp/muc/muc-render.js';
import { isoStamp, type XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * What a room says it is (XEP-0045 section 6.4): exactly what the gateway
 * does. Members-only and persistent as REST rooms are; non-anonymous since
 * members see each other's JIDs over REST; unmoderated (every member may
 * speak); hidden (listed to its members only); no password; archived (MAM).
 */
const ROOM_FEATURES = [
  NS.muc,
  'muc_hidden',
  'muc_membersonly',
  'muc_nonanonymous',
  'muc_persistent',
  'muc_unmoderated',
  'muc_unsecured',
  NS.discoInfo,
  NS.discoItems,
  NS.mam,
  NS.stanzaId,
  // XEP-0410 section 3.2: the service answers self-pings itself.
  'http://jabber.org/protocol/muc#self-ping-optimization',
].sort();

const SERVICE_FEATURES = [NS.discoInfo, NS.discoItems, NS.muc, NS.ping].sort();

/**
 * IQs to the multi-user chat service and its rooms: service discovery,
 * MAM over the room archive (XEP-0313 section 4 on a room's JID), the
 * member and owner lists (section 9.5, 10.5) and their changes mapped onto
 * adding and removing members, destruction (section 10.9) and self-pings
 * (XEP-0410).
 */
@Injectable()
export class MucIq {
  constructor(
    private readonly rooms: RoomsService,
    private readonly members: RoomMembersService,
    private readonly roomMessages: RoomMessagesService,
    private readonly occupants: MucOccupants,
  ) {}

  async handle(session: XmppSession, iq: XmlElement, address: MucAddress): Promise<void> {
    const type = iq.attr('type');
    if (type === 'result' || type === 'error') {
      return;
    }
    if ((type !== 'get' && type !== 'set') || iq.attr('id') === undefined) {
      throw new StanzaError('bad-request', 'an IQ needs an id and type get or set');
    }
    const payloads = iq.elements();
    if (payloads.length !== 1) {
      throw new StanzaError('bad-request', 'an IQ get or set carries exactly one payload');
    }
    const payload = payloads[0]!;
    const result =
      address.room === undefined
        ? await this.service(session, address, payload, type)
        : address.jid.resource === undefined
          ? await this.room(session, address, payload, type)
          : this.occupant(session, address, payload);
    session.send(
      el(
        'iq',
        NS.client,
        { type: 'result', id: iq.attr('id'), to: session.fullJid, from: iq.attr('to') },
        result,
      ),
    );
  }

  /** The service's own address (section 6.1, 6.3): what it is, and the user's rooms of the domain. */
  private async service(
    session: XmppSession,
    address: MucAddress,
    payload: XmlElement,
    type: 'get' | 'set',
  ): Promise<XmlElement | undefined> {
    if (payload.is('ping', NS.ping)) {
      return undefined;
    }
    if (type === 'get' && payload.is('query', NS.discoInfo) && payload.attr('node') === undefined) {
      return el(
        'query',
        NS.discoInfo,
        {},
        el('identity', NS.discoInfo, { category: 'conference', type: 'text', name: 'Rooms' }),
        ...SERVICE_FEATURES.map((name) => el('feature', NS.discoInfo, { var: name })),
      );
    }
    if (
      type === 'get' &&
      payload.is('query', NS.discoItems) &&
      payload.attr('node') === undefined
    ) {
      const rooms = (await this.rooms.roomsOf(session.user)).filter(
        (room) => room.domain === address.domain,
      );

      return el(
        'query',
        NS.discoItems,
        {},
        ...rooms.map((room) => el('item', NS.discoItems, { jid: roomJid(room), name: room.name })),
      );
    }
    throw new StanzaError('service-unavailable');
  }

  private async room(
    session: XmppSession,
    address: MucAddress,
    payload: XmlElement,
    type: 'get' | 'set',
  ): Promise<XmlElement | undefined> {
    if (type === 'get' && payload.is('query', NS.discoInfo) && payload.attr('node') === undefined) {
      return this.roomInfo(await memberRoom(this.rooms, session, address, 'item-not-found'));
    }
    if (
      type === 'get' &&
      payload.is('query', NS.discoItems) &&
      payload.attr('node') === undefined
    ) {
      const room = await memberRoom(this.rooms, session, address, 'item-not-found');
      const occupants = await this.occupants.occupants(room.id);

      return el(
        'query',
        NS.discoItems,
        {},
        ...[...occupants.keys()].map((nick) =>
          el('item', NS.discoItems, { jid: `${roomJid(room)}/${nick}`, name: nick }),
        ),
      );
    }
    if (payload.is('query', NS.mam)) {
      const room = await memberRoom(this.rooms, session, address, 'forbidden');

      return type === 'get' ? form() : this.archive(session, room, payload);
    }
    if (payload.is('query', NS.mucAdmin)) {
      const room = await memberRoom(this.rooms, session, address, 'forbidden');

      return type === 'get' ? this.list(room, payload) : this.change(session, room, payload);
    }
    if (payload.is('query', NS.mucOwner)) {
      const room = await memberRoom(this.rooms, session, address, 'forbidden');
      if (type === 'set' && payload.child('destroy', NS.mucOwner) !== undefined) {
        try {
          await this.rooms.destroy(room.id, session.user);
        } catch (error: unknown) {
          throw mucStanzaError(error);
        }

        return undefined;
      }
      throw new StanzaError(
        'feature-not-implemented',
        'room configuration is changed over the REST API',
      );
    }
    throw new StanzaError('service-unavailable');
  }

  /** Section 6.4 with the muc#roominfo form (section 15.5.4). */
  private roomInfo(room: RoomDetails): XmlElement {
    const field = (name: string, value: string, type?: string) =>
      el('field', NS.dataForms, { var: name, type }, el('value', NS.dataForms, {}, value));

    return el(
      'query',
      NS.discoInfo,
      {},
      el('identity', NS.discoInfo, { category: 'conference', type: 'text', name: room.name }),
      ...ROOM_FEATURES.map((name) => el('feature', NS.discoInfo, { var: name })),
      el(
        'x',
        NS.dataForms,
        { type: 'result' },
        field('FORM_TYPE', NS.mucRoomInfo, 'hidden'),
        field('muc#roomconfig_roomname', room.name),
        field('muc#roominfo_subject', room.subject),
        field('muc#roominfo_subjectmod', room.settings.configure === 'members' ? '1' : '0'),
        field('muc#roomconfig_changesubject', room.settings.configure === 'members' ? '1' : '0'),
      ),
    );
  }

  /** XEP-0410: a client asks whether it is still in the room. */
  private occupant(session: XmppSession, address: MucAddress, payload: XmlElement): undefined {
    if (!payload.is('ping', NS.ping)) {
      throw new StanzaError('service-unavailable', 'IQs to occupants are not relayed');
    }
    const own = this.occupants.nickOf(address.room!, session.id);
    if (own === undefined) {
      throw new StanzaError('not-acceptable', 'not in this room');
    }
    if (own !== address.jid.resource) {
      throw new StanzaError('feature-not-implemented', 'pings to other occupants are not relayed');
    }

    return undefined;
  }

  /** MAM on the room's JID: its messages, with RSM, the same ids as REST and the live stanza-ids. */
  private async archive(
    session: XmppSession,
    room: RoomDetails,
    payload: XmlElement,
  ): Promise<XmlElement> {
    const query = parseQuery(payload);
    if (query.with !== undefined) {
      throw new StanzaError('feature-not-implemented', 'with is not supported on a room archive');
    }
    for (const id of [query.beforeId, query.afterId, query.rsmAfter, query.rsmBefore]) {
      if (
        id !== undefined &&
        id !== '' &&
        !(await this.roomMessages.hasEntry(room.id, session.user, id))
      ) {
        throw new StanzaError('item-not-found', `no message ${id} in this archive`);
      }
    }
    const backward = query.rsmBefore !== undefined;
    const lower = maxId(
      query.afterId,
      query.start === undefined ? undefined : lowestIdAt(query.start),
      backward ? undefined : query.rsmAfter,
    );
    const upper = minId(
      query.beforeId,
      backward && query.rsmBefore !== '' ? query.rsmBefore : undefined,
      query.end === undefined ? undefined : lowestIdAt(query.end + 1),
    );
    const rows = await this.roomMessages.messages(room.id, session.user, {
      limit: query.max + 1,
      newest: backward,
      ...(lower === undefined ? {} : { afterId: lower }),
      ...(upper === undefined ? {} : { beforeId: upper }),
    });
    const more = rows.length > query.max;
    const page = more ? (backward ? rows.slice(1) : rows.slice(0, query.max)) : rows;
    const jid = roomJid(room);
    const queryId = payload.attr('queryid');
    for (const view of page) {
      const nick = this.occupants.senderNick(room.id, view.from ?? jid);
      session.send(
        el(
          'message',
          NS.client,
          { to: session.fullJid, from: jid },
          el(
            'result',
            NS.mam,
            { queryid: queryId, id: view.id },
            el(
              'forwarded',
              NS.forward,
              {},
              el('delay', NS.delay, { stamp: isoStamp(view.timestamp) }),
              groupchatMessage(jid, nick, session.jid, view),
            ),
          ),
        ),
      );
    }
    const first = page[0];
    const last = page.at(-1);

    return el(
      'fin',
      NS.mam,
      { complete: more ? undefined : 'true' },
      el(
        'set',
        NS.rsm,
        {},
        first === undefined ? undefined : el('first', NS.rsm, {}, first.id),
        last === undefined ? undefined : el('last', NS.rsm, {}, last.id),
      ),
    );
  }

  /** Section 9.5 and 10.5: owners and members; the room has no admins or outcasts. */
  private async list(room: RoomDetails, payload: XmlElement): Promise<XmlElement> {
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
  private async change(
    session: XmppSession,
    room: RoomDetails,
    payload: XmlElement,
  ): Promise<undefined> {
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
