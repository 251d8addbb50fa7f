import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import { parseUserAddress, UserRef, UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { directConversation, roomConversation } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import type { MarkerType } from '#src/messaging/dto/send-message.dto.js';
import type { ConversationKind, ConversationRef, MarkerView } from '#src/messaging/message-view.js';
import { PeerNotifier } from '#src/messaging/peer-notifier.js';
import { findRoomMessage } from '#src/messaging/room-targets.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery } from '#src/routing/server-events.js';

/** Each marker covers the weaker ones: displayed implies received, acknowledged implies both. */
const IMPLIED: Record<MarkerType, readonly MarkerType[]> = {
  received: ['received'],
  displayed: ['received', 'displayed'],
  acknowledged: ['received', 'displayed', 'acknowledged'],
};
const STRENGTH: readonly MarkerType[] = ['received', 'displayed', 'acknowledged'];

/** Who has a message: the JIDs whose marker of each kind covers it. */
export interface MessageMarkers {
  readonly received: string[];
  readonly displayed: string[];
  readonly acknowledged: string[];
}

/** How far one participant has got in a conversation. */
export interface ParticipantMarkers {
  readonly jid: string;
  readonly received: string | null;
  readonly displayed: string | null;
  readonly acknowledged: string | null;
}

/** Where a marked message lives, as the marking user names it. */
type MarkedConversation =
  | { readonly type: 'chat'; readonly id: string; readonly peerClientId?: string }
  | { readonly type: 'room'; readonly id: string; readonly members: readonly string[] };

interface MarkOutcome {
  readonly conversation: MarkedConversation;
  readonly strongest: MarkerType;
  readonly unread: number | undefined;
  readonly recorded: number;
}

/**
 * Chat markers (XEP-0333) on one-to-one and room conversations: stored as
 * how far each participant got, moved only forward, pushed to every
 * participant's sessions, and a displayed marker recounts the reader's
 * unread messages.
 */
@Injectable()
export class MarkersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly router: RouterService,
    private readonly events: EventRecorder,
    private readonly peers: PeerNotifier,
    private readonly blocking: BlockingService,
  ) {}

  /**
   * Marks a message of the user's archive, or of a room the user is in; a
   * marker behind the stored one changes nothing. `senderSession`, the
   * session that set it, is not told of it again.
   */
  async mark(
    user: UserRef,
    id: string,
    type: MarkerType,
    roomId?: string,
    senderSession?: string,
  ): Promise<void> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      const conversation = await this.conversationOf(manager, user, id, roomId);
      const advanced = await manager.query<{ type: MarkerType }[]>(
        `INSERT INTO chat_markers AS marker (owner_id, kind, conversation, type, message_id)
         SELECT $1, $2, $3, t, $4 FROM unnest($5::text[]) AS t
         ON CONFLICT (owner_id, kind, conversation, type) DO UPDATE
           SET message_id = excluded.message_id, updated_at = now()
           WHERE marker.message_id < excluded.message_id
         RETURNING type`,
        [user.id, conversation.type, conversation.id, id, IMPLIED[type]],
      );
      const types = new Set(advanced.map((row) => row.type));
      if (types.size === 0) {
        return undefined;
      }
      const displayed = types.has('displayed');
      const unread = displayed ? await recountUnread(manager, user, conversation, id) : undefined;
      const recorded = displayed
        ? await this.events.record(manager, [
            {
              type: 'message.displayed',
              domain: user.jid.slice(user.jid.indexOf('@') + 1),
              conversation:
                conversation.type === 'chat'
                  ? directConversation(user.jid, conversation.id)
                  : roomConversation(conversation.id),
              data: {
                id,
                by: user.jid,
                conversation: { type: conversation.type, id: conversation.id },
              },
            },
          ])
        : 0;
      const outcome: MarkOutcome = {
        conversation,
        strongest: STRENGTH.filter((t) => types.has(t)).at(-1)!,
        unread,
        recorded,
      };

      return outcome;
    });
    if (outcome !== undefined) {
      await this.publish(user, id, outcome, senderSession);
    }
  }

  private async publish(
    user: UserRef,
    id: string,
    outcome: MarkOutcome,
    senderSession: string | undefined,
  ): Promise<void> {
    if (outcome.recorded > 0) {
      this.events.committed();
    }
    const { conversation } = outcome;
    const marker = (ref: ConversationRef): MarkerView => ({
      conversation: ref,
      by: user.jid,
      type: outcome.strongest,
      message_id: id,
    });
    const own: Delivery[] = [
      { event: 'marker', data: marker({ type: conversation.type, id: conversation.id }) },
    ];
    if (outcome.unread !== undefined) {
      own.push({
        event: 'inbox',
        data: { type: conversation.type, id: conversation.id, unread: outcome.unread },
      });
    }
    if (conversation.type === 'chat') {
      const theirs = marker({ type: 'chat', id: user.jid });
      await Promise.all([
        this.router.deliver(user.jid, own, senderSession),
        this.peers.tell(user, conversation.id, {
          event: 'marker',
          data:
            conversation.peerClientId === undefined
              ? theirs
              : { ...theirs, client_id: conversation.peerClientId },
        }),
      ]);

      return;
    }
    const others = conversation.members.filter((jid) => jid !== user.jid);
    const blockers = await this.blocking.blockersAmong(user.jid, others);
    await Promise.all([
      this.router.deliver(user.jid, own, senderSession),
      this.router.deliverToEach(
        others.filter((jid) => !blockers.has(jid)),
        { event: 'marker', data: marker({ type: 'room', id: conversation.id }) },
      ),
    ]);
  }

  /** Which participants have received, displayed and acknowledged a message the user can see. */
  async ofMessage(user: UserRef, id: string): Promise<MessageMarkers> {
    const conversation = await this.conversationOf(this.dataSource.manager, user, id);
    const rows =
      conversation.type === 'chat'
        ? await this.chatRows(user, conversation.id, id)
        : await this.roomRows(conversation.id, id);
    const result: MessageMarkers = { received: [], displayed: [], acknowledged: [] };
    for (const row of rows) {
      result[row.type].push(row.jid);
    }

    return result;
  }

  /** How far each participant of a conversation has got. */
  async ofConversation(
    user: UserRef,
    kind: ConversationKind,
    id: string,
  ): Promise<ParticipantMarkers[]> {
    const participants =
      kind === 'chat' ? [user.jid, parseUserAddress(id, 'id')] : await this.membersOf(user, id);
    const rows =
      kind === 'chat' ? await this.chatRows(user, participants[1]!) : await this.roomRows(id);
    const byJid = new Map<string, ParticipantMarkers>(
      participants.map((jid) => [
        jid,
        { jid, received: null, displayed: null, acknowledged: null },
      ]),
    );
    for (const row of rows) {
      const current = byJid.get(row.jid);
      if (current !== undefined) {
        byJid.set(row.jid, { ...current, [row.type]: row.message_id });
      }
    }

    return [...byJid.values()];
  }

  /** The room's members, when the user is one; otherwise the same 404 as for no room at all. */
  private async membersOf(user: UserRef, roomId: string): Promise<string[]> {
    const rows = await this.dataSource.query<{ jid: string }[]>(
      `SELECT jid FROM room_members
       WHERE room_id = $1 AND EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND jid = $2)
       ORDER BY joined_at`,
      [roomId, user.jid],
    );
    if (rows.length === 0) {
      throw new AppError('conversation-not-found', {
        detail: `no room conversation ${roomId} in your inbox`,
      });
    }

    return rows.map((row) => row.jid);
  }

  private async roomRows(
    roomId: string,
    atLeast?: string,
  ): Promise<{ jid: string; type: MarkerType; message_id: string }[]> {
    return this.dataSource.query(
      `SELECT u.username || '@' || u.domain AS jid, m.type, m.message_id
       FROM chat_markers m JOIN users u ON u.id = m.owner_id
       WHERE m.kind = 'room' AND m.conversation = $1 AND ($2::uuid IS NULL OR m.message_id >= $2::uuid)
       ORDER BY jid, m.type`,
      [roomId, atLeast ?? null],
    );
  }

  /** The markers of both chat participants, optionally only those at or past `atLeast`. */
  private async chatRows(
    user: UserRef,
    peer: string,
    atLeast?: string,
  ): Promise<{ jid: string; type: MarkerType; message_id: string }[]> {
    const peerUser = peer === user.jid ? undefined : await this.users.findByJid(peer);
    const owners: [string, string][] = [[user.id, peer]];
    if (peerUser !== undefined) {
      owners.push([peerUser.id, user.jid]);
    }
    const rows = await this.dataSource.query<
      { owner_id: string; type: MarkerType; message_id: string }[]
    >(
      `SELECT owner_id, type, message_id FROM chat_markers
       WHERE kind = 'chat' AND (owner_id, conversation) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
         AND ($3::uuid IS NULL OR message_id >= $3::uuid)
       ORDER BY owner_id, type`,
      [
        owners.map(([owner]) => owner),
        owners.map(([, conversation]) => conversation),
        atLeast ?? null,
      ],
    );

    return rows.map((row) => ({
      jid: row.owner_id === user.id ? user.jid : peer,
      type: row.type,
      message_id: row.message_id,
    }));
  }

  /** The conversation of a message the user can see: their archive first, then their rooms. */
  private async conversationOf(
    manager: EntityManager,
    user: UserRef,
    id: string,
    roomId?: string,
  ): Promise<MarkedConversation> {
    if (roomId === undefined) {
      // The author's client id of an incoming message, for the author's copy of the marker.
      const rows = await manager.query<{ peer: string; peer_client_id: string | null }[]>(
        `SELECT mine.peer, CASE WHEN mine.outgoing THEN NULL ELSE (
           SELECT theirs.client_id FROM users u
           JOIN archived_messages theirs ON theirs.owner_id = u.id AND theirs.id = mine.id
           WHERE u.domain = split_part(mine.peer, '@', 2) AND u.username = split_part(mine.peer, '@', 1)
             AND theirs.outgoing
         ) END AS peer_client_id
         FROM archived_messages mine WHERE mine.owner_id = $1 AND mine.id = $2`,
        [user.id, id],
      );
      const row = rows[0];
      if (row !== undefined) {
        return {
          type: 'chat',
          id: row.peer,
          ...(row.peer_client_id === null ? {} : { peerClientId: row.peer_client_id }),
        };
      }
    }
    const room = await findRoomMessage(manager, user.jid, id);
    if (
      room === undefined ||
      room.kind !== 'message' ||
      (roomId !== undefined && room.roomId !== roomId)
    ) {
      throw new AppError('message-not-found', {
        detail: `no message ${id} you can see`,
        fields: [{ name: 'id', reason: 'no such message' }],
      });
    }

    return { type: 'room', id: room.roomId, members: room.members };
  }
}

/** Unread becomes the count of messages from others after the one displayed. */
async function recountUnread(
  manager: EntityManager,
  user: UserRef,
  conversation: MarkedConversation,
  displayed: string,
): Promise<number | undefined> {
  const rows =
    conversation.type === 'chat'
      ? await manager.query<[{ unread: number }[], number]>(
          `UPDATE inbox_entries SET unread = (
             SELECT count(*) FROM archived_messages
             WHERE owner_id = $1 AND peer = $2 AND NOT outgoing AND id > $3
           )
           WHERE owner_id = $1 AND kind = 'chat' AND conversation = $2
           RETURNING unread`,
          [user.id, conversation.id, displayed],
        )
      : await manager.query<[{ unread: number }[], number]>(
          `UPDATE inbox_entries SET unread = (
             SELECT count(*) FROM room_messages
             WHERE room_id = $2 AND kind = 'message' AND id > $3 AND sender IS DISTINCT FROM $4
           )
           WHERE owner_id = $1 AND kind = 'room' AND conversation = $2
           RETURNING unread`,
          [user.id, conversation.id, displayed, user.jid],
        );

  return rows[0][0]?.unread;
}
