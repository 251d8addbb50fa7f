import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import { parseUserAddress, UserRef, UsersService } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { directConversation } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import type { MarkerType } from '#src/messaging/dto/send-message.dto.js';
import type { ConversationKind, MarkerView } from '#src/messaging/message-view.js';
import { PeerNotifier } from '#src/messaging/peer-notifier.js';
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

/**
 * Chat markers (XEP-0333) on one-to-one conversations: stored as how far
 * each participant got, moved only forward, pushed to both participants'
 * sessions, and a displayed marker recounts the reader's unread messages.
 */
@Injectable()
export class MarkersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly router: RouterService,
    private readonly events: EventRecorder,
    private readonly peers: PeerNotifier,
  ) {}

  /** Marks a message of the user's archive; a marker behind the stored one changes nothing. */
  async mark(user: UserRef, id: string, type: MarkerType): Promise<void> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      const peer = await this.peerOf(manager, user, id);
      const advanced = await manager.query<{ type: MarkerType }[]>(
        `INSERT INTO chat_markers AS marker (owner_id, kind, conversation, type, message_id)
         SELECT $1, 'chat', $2, t, $3 FROM unnest($4::text[]) AS t
         ON CONFLICT (owner_id, kind, conversation, type) DO UPDATE
           SET message_id = excluded.message_id, updated_at = now()
           WHERE marker.message_id < excluded.message_id
         RETURNING type`,
        [user.id, peer, id, IMPLIED[type]],
      );
      const types = new Set(advanced.map((row) => row.type));
      if (types.size === 0) {
        return undefined;
      }
      const unread = types.has('displayed')
        ? await recountUnread(manager, user.id, peer, id)
        : undefined;
      const recorded = types.has('displayed')
        ? await this.events.record(manager, [
            {
              type: 'message.displayed',
              domain: user.jid.slice(user.jid.indexOf('@') + 1),
              conversation: directConversation(user.jid, peer),
              data: { id, by: user.jid, conversation: { type: 'chat', id: peer } },
            },
          ])
        : 0;

      return { peer, strongest: STRENGTH.filter((t) => types.has(t)).at(-1)!, unread, recorded };
    });
    if (outcome === undefined) {
      return;
    }
    if (outcome.recorded > 0) {
      this.events.committed();
    }
    const marker = (conversation: string): MarkerView => ({
      conversation: { type: 'chat', id: conversation },
      by: user.jid,
      type: outcome.strongest,
      message_id: id,
    });
    const own: Delivery[] = [{ event: 'marker', data: marker(outcome.peer) }];
    if (outcome.unread !== undefined) {
      own.push({
        event: 'inbox',
        data: { type: 'chat', id: outcome.peer, unread: outcome.unread },
      });
    }
    await Promise.all([
      this.router.deliver(user.jid, own),
      this.peers.tell(user, outcome.peer, { event: 'marker', data: marker(user.jid) }),
    ]);
  }

  /** Which participants have received, displayed and acknowledged a message of the user's archive. */
  async ofMessage(user: UserRef, id: string): Promise<MessageMarkers> {
    const peer = await this.peerOf(this.dataSource.manager, user, id);
    const rows = await this.participantRows(user, peer, id);
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
    if (kind === 'room') {
      return this.roomMarkers(id);
    }
    const peer = parseUserAddress(id, 'id');
    const rows = await this.participantRows(user, peer);
    const byJid = new Map<string, ParticipantMarkers>(
      [user.jid, peer].map((jid) => [
        jid,
        { jid, received: null, displayed: null, acknowledged: null },
      ]),
    );
    for (const row of rows) {
      byJid.set(row.jid, { ...byJid.get(row.jid)!, [row.type]: row.message_id });
    }

    return [...byJid.values()];
  }

  /** Every member's markers in a room. */
  private async roomMarkers(roomId: string): Promise<ParticipantMarkers[]> {
    const rows = await this.dataSource.query<
      { jid: string; type: MarkerType; message_id: string }[]
    >(
      `SELECT u.username || '@' || u.domain AS jid, m.type, m.message_id
       FROM chat_markers m JOIN users u ON u.id = m.owner_id
       WHERE m.kind = 'room' AND m.conversation = $1`,
      [roomId],
    );
    const byJid = new Map<string, ParticipantMarkers>();
    for (const row of rows) {
      const current = byJid.get(row.jid) ?? {
        jid: row.jid,
        received: null,
        displayed: null,
        acknowledged: null,
      };
      byJid.set(row.jid, { ...current, [row.type]: row.message_id });
    }

    return [...byJid.values()];
  }

  /** The markers of both participants, optionally only those at or past `atLeast`. */
  private async participantRows(
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

  /** The other side of a message of the user's archive. */
  private async peerOf(manager: EntityManager, user: UserRef, id: string): Promise<string> {
    const rows = await manager.query<{ peer: string }[]>(
      'SELECT peer FROM archived_messages WHERE owner_id = $1 AND id = $2',
      [user.id, id],
    );
    if (rows[0] === undefined) {
      throw new AppError('message-not-found', { detail: `no message ${id} in your archive` });
    }

    return rows[0].peer;
  }
}

/** Unread becomes the count of messages received after the one displayed. */
async function recountUnread(
  manager: EntityManager,
  ownerId: string,
  peer: string,
  displayed: string,
): Promise<number | undefined> {
  const rows = await manager.query<[{ unread: number }[], number]>(
    `UPDATE inbox_entries SET unread = (
       SELECT count(*) FROM archived_messages
       WHERE owner_id = $1 AND peer = $2 AND NOT outgoing AND id > $3
     )
     WHERE owner_id = $1 AND kind = 'chat' AND conversation = $2
     RETURNING unread`,
    [ownerId, peer, displayed],
  );

  return rows[0][0]?.unread;
}
