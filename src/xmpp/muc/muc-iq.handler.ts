import { Injectable } from '@nestjs/common';

import { RoomsService, type RoomDetails } from '#src/rooms/rooms.service.js';
import { isAnswer, iqRequest } from '#src/xmpp/handlers/addressing.js';
import { form } from '#src/xmpp/handlers/mam.handler.js';
import { memberRoom, mucStanzaError, type MucAddress } from '#src/xmpp/muc/muc-access.js';
import { MucAffiliations } from '#src/xmpp/muc/muc-affiliations.js';
import { MucArchive } from '#src/xmpp/muc/muc-archive.js';
import { MucOccupants } from '#src/xmpp/muc/muc-occupants.service.js';
import { roomJid } from '#src/xmpp/muc/muc-render.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
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
    private readonly occupants: MucOccupants,
    private readonly archive: MucArchive,
    private readonly affiliations: MucAffiliations,
  ) {}

  async handle(session: XmppSession, iq: XmlElement, address: MucAddress): Promise<void> {
    if (isAnswer(iq)) {
      return;
    }
    const { type, payload } = iqRequest(iq);
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

      return type === 'get' ? form() : this.archive.query(session, room, payload);
    }
    if (payload.is('query', NS.mucAdmin)) {
      const room = await memberRoom(this.rooms, session, address, 'forbidden');

      return type === 'get'
        ? this.affiliations.list(room, payload)
        : this.affiliations.change(session, room, payload);
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
}
