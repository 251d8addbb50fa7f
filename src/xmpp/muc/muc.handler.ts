import { Injectable, OnModuleInit } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { lowestIdAt, timestampOf } from '#src/common/ids.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import { parseRoomId } from '#src/rooms/room-rules.js';
import { RoomsService, type RoomDetails } from '#src/rooms/rooms.service.js';
import { stanzaJid } from '#src/xmpp/handlers/addressing.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { memberRoom, mucStanzaError, type MucAddress } from '#src/xmpp/muc/muc-access.js';
import { MucIq } from '#src/xmpp/muc/muc-iq.handler.js';
import { MucOccupants, type ShownPresence } from '#src/xmpp/muc/muc-occupants.service.js';
import {
  groupchatMessage,
  MUC_PREFIX,
  mucDomain,
  roomJid,
  subjectMessage,
} from '#src/xmpp/muc/muc-render.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** History sent on joining when the client names no limit (section 7.2.15 leaves it to the service). */
const DEFAULT_HISTORY = 20;
const MAX_HISTORY = 100;
const SHOWS = new Set(['away', 'chat', 'dnd', 'xa']);
/** The status length the REST API accepts. */
const MAX_STATUS = 1024;

/**
 * Multi-user chat (XEP-0045) on `muc.<domain>` over the rooms of the REST
 * API: each room is `<room id>@muc.<room's domain>`, members-only and
 * persistent; owners are owners (moderators), members are members
 * (participants). Presence joins and leaves, groupchat messages go through
 * RoomMessagesService like a REST post, and a subject change through
 * RoomsService.configure under the room's permissions.
 */
@Injectable()
export class MucHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly domains: DomainsService,
    private readonly rooms: RoomsService,
    private readonly roomMessages: RoomMessagesService,
    private readonly occupants: MucOccupants,
    private readonly iq: MucIq,
  ) {}

  onModuleInit(): void {
    this.registry.registerComponent({
      claims: (domain) => domain.startsWith(MUC_PREFIX),
      handle: (session, stanza) => this.handle(session, stanza),
    });
    this.registry.addServerItems((domain) => [{ jid: mucDomain(domain), name: 'Rooms' }]);
  }

  private async handle(session: XmppSession, stanza: XmlElement): Promise<void> {
    const address = await this.addressOf(stanza.attr('to')!);
    switch (stanza.name) {
      case 'presence':
        await this.presence(session, stanza, address);
        break;
      case 'message':
        await this.message(session, stanza, address);
        break;
      default:
        await this.iq.handle(session, stanza, address);
    }
  }

  private async addressOf(to: string): Promise<MucAddress> {
    const jid = stanzaJid(to);
    const domain = jid.domain.slice(MUC_PREFIX.length);
    if ((await this.domains.isEnabled(domain)) !== true) {
      throw new StanzaError('remote-server-not-found');
    }
    if (jid.local === '') {
      return { jid, domain };
    }
    try {
      return { jid, domain, room: parseRoomId(jid.local) };
    } catch {
      // Not a room id: no such room, the same answer as for any room one is not in.
      return { jid, domain, room: `${jid.local}.invalid` };
    }
  }

  private async presence(
    session: XmppSession,
    stanza: XmlElement,
    address: MucAddress,
  ): Promise<void> {
    const type = stanza.attr('type');
    if (address.room === undefined || type === 'error') {
      return;
    }
    if (type === 'unavailable') {
      await this.occupants.leave(session, address.room);

      return;
    }
    if (type !== undefined) {
      // Rooms take no subscriptions or probes.
      return;
    }
    const nick = address.jid.resource;
    if (nick === undefined || nick.trim() === '') {
      throw new StanzaError('jid-malformed', 'join with a nickname: room@service/nick');
    }
    if (nick.includes('@')) {
      // Members who are not in the room over XMPP show under their bare JID.
      throw new StanzaError('not-acceptable', 'a nickname may not contain @');
    }
    let room: RoomDetails;
    let joined: 'joined' | 'updated';
    try {
      room = await memberRoom(this.rooms, session, address, 'registration-required');
      joined = await this.occupants.join(session, room, nick, shownOf(stanza));
    } catch (error: unknown) {
      if (!(error instanceof StanzaError)) {
        throw error;
      }
      // Section 7.2.6 and on: a join error carries the join's <x/> back, which clients match on.
      const reply = error.reply(stanza);
      reply.children.unshift(el('x', NS.muc));
      session.send(reply);

      return;
    }
    if (joined === 'joined') {
      await this.history(session, room, stanza.child('x', NS.muc)?.child('history', NS.muc));
      session.send(subjectMessage(roomJid(room), session.fullJid, room.subject));
    }
  }

  /** Section 7.2.15: the newest messages, limited by maxstanzas, seconds or since; maxchars='0' is none. */
  private async history(
    session: XmppSession,
    room: RoomDetails,
    request: XmlElement | undefined,
  ): Promise<void> {
    let limit = DEFAULT_HISTORY;
    let since: number | undefined;
    if (request !== undefined) {
      const stanzas = Number(request.attr('maxstanzas') ?? DEFAULT_HISTORY);
      limit = Number.isInteger(stanzas) && stanzas >= 0 ? Math.min(stanzas, MAX_HISTORY) : limit;
      if (request.attr('maxchars') === '0') {
        limit = 0;
      }
      const seconds = Number(request.attr('seconds'));
      if (request.attr('seconds') !== undefined && Number.isFinite(seconds) && seconds >= 0) {
        since = Date.now() - seconds * 1000;
      }
      const date = Date.parse(request.attr('since') ?? '');
      if (!Number.isNaN(date)) {
        since = Math.max(since ?? date, date);
      }
    }
    if (limit === 0) {
      return;
    }
    const views = await this.roomMessages.messages(room.id, session.user, {
      limit,
      newest: true,
      ...(since === undefined ? {} : { afterId: lowestIdAt(since) }),
    });
    const jid = roomJid(room);
    for (const view of views) {
      const nick = this.occupants.senderNick(room.id, view.from ?? jid);
      session.send(groupchatMessage(jid, nick, session.fullJid, view, { delay: true }));
    }
  }

  /** Section 7.4 (messages) and 8.1 (subject), for occupants only. */
  private async message(
    session: XmppSession,
    stanza: XmlElement,
    address: MucAddress,
  ): Promise<void> {
    const type = stanza.attr('type') ?? 'normal';
    if (type === 'error') {
      return;
    }
    if (address.room === undefined) {
      throw new StanzaError('service-unavailable', 'the service takes no messages; rooms do');
    }
    if (address.jid.resource !== undefined) {
      throw new StanzaError(
        'feature-not-implemented',
        'private messages between occupants are not offered',
      );
    }
    if (type !== 'groupchat') {
      throw new StanzaError('not-acceptable', 'a room takes groupchat messages');
    }
    const nick = this.occupants.nickOf(address.room, session.id);
    if (nick === undefined) {
      throw new StanzaError('not-acceptable', 'join the room first');
    }
    const body = stanza.childText('body', NS.client);
    const subject = stanza.childText('subject', NS.client);
    try {
      if (body !== undefined) {
        await this.send(session, stanza, { id: address.room, domain: address.domain }, nick, body);
      } else if (subject !== undefined) {
        await this.rooms.configure(address.room, session.user, { subject });
      }
      // Bodiless chat states and markers in rooms are not relayed.
    } catch (error: unknown) {
      throw mucStanzaError(error);
    }
  }

  /** Stored once and pushed to every member; the sender gets its own copy back (section 7.4). */
  private async send(
    session: XmppSession,
    stanza: XmlElement,
    room: { readonly id: string; readonly domain: string },
    nick: string,
    body: string,
  ): Promise<void> {
    const thread = stanza.childText('thread', NS.client)?.trim();
    const originId = stanza.child('origin-id', NS.stanzaId)?.attr('id');
    const result = await this.roomMessages.send({
      roomId: room.id,
      sender: session.jid,
      body,
      source: 'client',
      senderSession: session.id,
      ...(thread === undefined || thread === '' ? {} : { thread: thread.slice(0, 256) }),
      ...(originId === undefined || originId === '' ? {} : { clientId: originId.slice(0, 128) }),
    });
    session.send(
      groupchatMessage(
        roomJid(room),
        nick,
        session.fullJid,
        {
          id: result.id,
          room: room.id,
          kind: 'message',
          from: session.jid,
          timestamp: timestampOf(result.id),
          body,
          ...(thread === undefined || thread === '' ? {} : { thread: thread.slice(0, 256) }),
        },
        { id: stanza.attr('id') ?? result.id },
      ),
    );
  }
}

function shownOf(stanza: XmlElement): ShownPresence {
  const show = stanza.childText('show', NS.client)?.trim();
  const status = stanza.childText('status', NS.client)?.slice(0, MAX_STATUS);

  return {
    ...(show !== undefined && SHOWS.has(show) && show !== 'chat' ? { show } : {}),
    ...(status === undefined || status === '' ? {} : { status }),
  };
}
