import { Injectable } from '@nestjs/common';

import { lowestIdAt } from '#src/common/ids.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import type { RoomDetails } from '#src/rooms/rooms.service.js';
import { mamFin, mamResult, maxId, minId, parseQuery } from '#src/xmpp/handlers/mam.handler.js';
import { MucOccupants } from '#src/xmpp/muc/muc-occupants.service.js';
import { groupchatMessage, roomJid } from '#src/xmpp/muc/muc-render.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';

/**
 * MAM (XEP-0313, urn:xmpp:mam:2) on a room's JID over the room archive
 * the REST API reads: its messages only (membership entries are presence
 * in XMPP), with the form fields and RSM paging of the user archive.
 */
@Injectable()
export class MucArchive {
  constructor(
    private readonly roomMessages: RoomMessagesService,
    private readonly occupants: MucOccupants,
  ) {}

  /** MAM on the room's JID: its messages, with RSM, the same ids as REST and the live stanza-ids. */
  async query(session: XmppSession, room: RoomDetails, payload: XmlElement): Promise<XmlElement> {
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
        mamResult(session, jid, queryId, view, groupchatMessage(jid, nick, session.jid, view)),
      );
    }

    return mamFin(page, !more);
  }
}
