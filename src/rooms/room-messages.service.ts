import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';
import { lowestIdAt, messageIds, timestampOf } from '#src/common/ids.js';
import { DEFAULT_PAGE_SIZE, type ArchivePageQuery } from '#src/common/paging.js';
import { AppConfig } from '#src/config/app-config.js';
import { roomConversation } from '#src/events/event-catalogue.js';
import type { UserRef } from '#src/accounts/users.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import type { MarkerType } from '#src/messaging/dto/send-message.dto.js';
import { MarkersService } from '#src/messaging/markers.service.js';
import type { ReactionCount } from '#src/messaging/message-view.js';
import { MetricsService } from '#src/observability/metrics.service.js';
import {
  ROOM_ENTRY_COLUMNS,
  toRoomMessageView,
  type RoomEntryRow,
  type RoomMessageView,
} from '#src/rooms/room-message-view.js';
import { membershipOf, roomById, roomNotFound, type Queryable } from '#src/rooms/room-store.js';
import { RoomWriter } from '#src/rooms/room-writer.service.js';

export interface RoomSendCommand {
  readonly roomId: string;
  /** The sending member's bare JID. */
  readonly sender: string;
  readonly body: string;
  readonly clientId?: string;
  readonly replyTo?: string;
  readonly thread?: string;
  readonly source: 'client' | 'admin';
  /** The sending session, which gets no copy of its own message. */
  readonly senderSession?: string;
}

/** What a member posts to a room: a message, a chat marker on one of its messages, or both. */
export type RoomPostCommand = Omit<RoomSendCommand, 'body' | 'sender'> & {
  readonly body?: string;
  readonly marker?: { readonly type: MarkerType; readonly id: string };
};

export interface RoomSendResult {
  readonly id: string;
  readonly duplicate: boolean;
}

interface SendRow {
  domain: string;
  id: string | null;
  members: string[];
  /** Each member's unread count after this message, `[jid, unread]`. */
  unread: [string, number][] | null;
}

/** Room messages: stored once, fanned out to every member's sessions; and the room archive. */
@Injectable()
export class RoomMessagesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: RoomWriter,
    private readonly archive: ArchiveService,
    private readonly markers: MarkersService,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
  ) {}

  /** A message and/or a marker; `{id}` of the message sent, or else of the message marked. */
  async post(user: UserRef, command: RoomPostCommand): Promise<{ id: string }> {
    const { body, marker, ...rest } = command;
    if (body === undefined && marker === undefined) {
      throw new AppError('validation', {
        detail: 'give a body, a marker, or both',
        fields: [{ name: 'body', reason: 'required without marker' }],
      });
    }
    if (body !== undefined) {
      // Refused before the marker is stored, so a refused request leaves nothing behind.
      this.assertSize(body);
    }
    if (marker !== undefined) {
      await this.markers.mark(user, marker.id, marker.type, command.roomId);
    }
    if (body === undefined) {
      return { id: marker!.id };
    }
    const result = await this.send({ ...rest, sender: user.jid, body });

    return { id: result.id };
  }

  async send(command: RoomSendCommand): Promise<RoomSendResult> {
    this.assertSize(command.body);
    const id = messageIds.next();
    const result = await this.writer.run(command.roomId, async (tx) => {
      const thread = await threadOf(tx.manager, command);
      const row = await insertMessage(tx.manager, command, id, thread);
      if (row === undefined) {
        throw await notSent(tx.manager, command);
      }
      if (row.id === null) {
        return firstSend(tx.manager, command);
      }
      const timestamp = timestampOf(id);
      tx.record({
        type: 'room.message_created',
        domain: row.domain,
        conversation: roomConversation(command.roomId),
        data: {
          room: command.roomId,
          id,
          from: command.sender,
          body: command.body,
          timestamp,
          ...(command.clientId === undefined ? {} : { client_id: command.clientId }),
          ...(command.replyTo === undefined ? {} : { reply_to: command.replyTo }),
          ...(thread === undefined ? {} : { thread }),
        },
      });
      const view: RoomMessageView = {
        id,
        room: command.roomId,
        kind: 'message',
        from: command.sender,
        timestamp,
        body: command.body,
        ...(command.replyTo === undefined ? {} : { reply_to: command.replyTo }),
        ...(thread === undefined ? {} : { thread }),
      };
      const others = row.members.filter((jid) => jid !== command.sender);
      tx.push(others, { event: 'room:message', data: view });
      if (row.members.length > others.length) {
        const own =
          command.clientId === undefined ? view : { ...view, client_id: command.clientId };
        tx.push([command.sender], { event: 'room:message', data: own }, command.senderSession);
      }
      // Members sharing an unread count share one push.
      const byCount = new Map<number, string[]>();
      for (const [jid, unread] of row.unread ?? []) {
        byCount.set(unread, [...(byCount.get(unread) ?? []), jid]);
      }
      for (const [unread, jids] of byCount) {
        tx.push(jids, {
          event: 'inbox',
          data: { type: 'room', id: command.roomId, unread, last_message_id: id },
        });
      }

      return { id, duplicate: false };
    });
    if (!result.duplicate) {
      this.metrics.messagesAccepted.inc(command.source);
    }

    return result;
  }

  private assertSize(body: string): void {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > this.config.messageMaxBytes) {
      throw new AppError('message-too-large', {
        detail: `body is ${bytes} bytes; the limit is ${this.config.messageMaxBytes}`,
        fields: [{ name: 'body', reason: `longer than ${this.config.messageMaxBytes} bytes` }],
      });
    }
  }

  /** The room archive, oldest first: same paging as the one-to-one archive. */
  async page(
    roomId: string,
    reader: { readonly id: string; readonly jid: string } | null,
    query: ArchivePageQuery,
    thread?: string,
  ): Promise<RoomMessageView[]> {
    if (reader === null) {
      await roomById(this.dataSource, roomId);
    } else {
      await membershipOf(this.dataSource, roomId, reader.jid);
    }
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const conditions = ['room_id = $1'];
    const params: unknown[] = [roomId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (thread !== undefined) {
      add('thread = ?', thread);
    }
    if (query.after_id !== undefined) {
      add('id > ?::uuid', query.after_id);
    }
    if (query.before_id !== undefined) {
      add('id < ?::uuid', query.before_id);
    }
    if (query.before !== undefined) {
      add('id < ?::uuid', lowestIdAt(query.before));
    }
    // Forward from a cursor reads ascending; otherwise the newest page, read descending and turned around.
    const forward = query.after_id !== undefined;
    params.push(limit);
    const rows = await this.dataSource.query<RoomEntryRow[]>(
      `SELECT ${ROOM_ENTRY_COLUMNS} FROM room_messages WHERE ${conditions.join(' AND ')}
       ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT $${params.length}`,
      params,
    );
    const ordered = forward ? rows : rows.reverse();
    const reactions =
      reader === null
        ? new Map<string, ReactionCount[]>()
        : await this.archive.reactionsOf(
            reader.id,
            ordered
              .filter((row) => row.kind === 'message' && row.retracted_at === null)
              .map((row) => row.id),
          );

    return ordered.map((row) => toRoomMessageView(row, reader?.jid, reactions.get(row.id)));
  }

  /**
   * A member's page of the room's messages, oldest first: what XMPP
   * history and MAM on the room's address show (XEP-0045 section 7.2.15,
   * XEP-0313 section 4), where membership changes are presence, not messages.
   */
  async messages(
    roomId: string,
    reader: UserRef,
    query: RoomMessagesQuery,
  ): Promise<RoomMessageView[]> {
    await membershipOf(this.dataSource, roomId, reader.jid);
    const params: unknown[] = [roomId, query.afterId ?? null, query.beforeId ?? null, query.limit];
    const rows = await this.dataSource.query<RoomEntryRow[]>(
      `SELECT ${ROOM_ENTRY_COLUMNS} FROM room_messages
       WHERE room_id = $1 AND kind = 'message' AND retracted_at IS NULL
         AND ($2::uuid IS NULL OR id > $2::uuid) AND ($3::uuid IS NULL OR id < $3::uuid)
       ORDER BY id ${query.newest ? 'DESC' : 'ASC'} LIMIT $4`,
      params,
    );
    const ordered = query.newest ? rows.reverse() : rows;

    return ordered.map((row) => toRoomMessageView(row, reader.jid));
  }

  /** Whether `id` is an entry of the room's archive, for a member (a paging cursor to check). */
  async hasEntry(roomId: string, reader: UserRef, id: string): Promise<boolean> {
    await membershipOf(this.dataSource, roomId, reader.jid);
    const rows = await this.dataSource.query<unknown[]>(
      'SELECT 1 FROM room_messages WHERE room_id = $1 AND id = $2::uuid',
      [roomId, id],
    );

    return rows.length > 0;
  }
}

/** A page of a room's messages alone (no membership entries, no retracted messages), for XMPP history. */
export interface RoomMessagesQuery {
  /** Only messages after this id (exclusive). */
  readonly afterId?: string;
  /** Only messages before this id (exclusive). */
  readonly beforeId?: string;
  readonly limit: number;
  /** The newest `limit` within the bounds rather than the oldest. */
  readonly newest: boolean;
}

/** Why nothing was stored: no such room (or not a member, which looks the same), or for an administrator, which. */
async function notSent(db: Queryable, command: RoomSendCommand): Promise<AppError> {
  if (command.source === 'admin') {
    await roomById(db, command.roomId);

    return new AppError('room-member-not-found', {
      detail: `${command.sender} is not in room ${command.roomId}`,
      fields: [{ name: 'from', reason: 'not a member of the room' }],
    });
  }

  return roomNotFound(command.roomId);
}

/**
 * One statement: store the message if the sender is a member (a repeated
 * idempotency key stores nothing), count it into every member's inbox, and
 * read the room's domain and members for the events and the fan-out. No
 * row: not a member; a null id: a repeat.
 */
async function insertMessage(
  db: Queryable,
  command: RoomSendCommand,
  id: string,
  thread: string | undefined,
): Promise<SendRow | undefined> {
  const rows = await db.query<SendRow[]>(
    `WITH sender AS (
       SELECT m.jid, r.domain FROM room_members m JOIN rooms r ON r.id = m.room_id
       WHERE m.room_id = $1 AND m.jid = $2
     ), inserted AS (
       INSERT INTO room_messages (room_id, id, sender, kind, body, client_id, reply_to, thread)
       SELECT $1, $3::uuid, sender.jid, 'message', $4, $5, $6, $7 FROM sender
       ON CONFLICT (room_id, sender, client_id) WHERE client_id IS NOT NULL DO NOTHING
       RETURNING id
     ), inbox AS (
       INSERT INTO inbox_entries AS entry (owner_id, kind, conversation, last_message_id, last_from, last_body, unread)
       SELECT m.user_id, 'room', $1, $3::uuid, $2, $4, CASE WHEN m.jid = $2 THEN 0 ELSE 1 END
       FROM room_members m WHERE m.room_id = $1 AND EXISTS (SELECT 1 FROM inserted)
       ORDER BY m.user_id
       ON CONFLICT (owner_id, kind, conversation) DO UPDATE SET
         last_message_id = greatest(entry.last_message_id, excluded.last_message_id),
         last_from = CASE WHEN excluded.last_message_id > entry.last_message_id THEN excluded.last_from ELSE entry.last_from END,
         last_body = CASE WHEN excluded.last_message_id > entry.last_message_id THEN excluded.last_body ELSE entry.last_body END,
         unread = entry.unread + excluded.unread,
         archived = entry.archived AND excluded.unread = 0
       RETURNING owner_id, unread
     )
     SELECT sender.domain, (SELECT id FROM inserted) AS id,
       ARRAY(SELECT jid FROM room_members WHERE room_id = $1) AS members,
       (SELECT json_agg(json_build_array(m.jid, inbox.unread))
          FROM inbox JOIN room_members m ON m.user_id = inbox.owner_id AND m.room_id = $1) AS unread
     FROM sender`,
    [
      command.roomId,
      command.sender,
      id,
      command.body,
      command.clientId ?? null,
      command.replyTo ?? null,
      thread ?? null,
    ],
  );

  return rows[0];
}

/**
 * The thread a room message joins: the one given, else for a reply the
 * thread of the message it answers, which must be a message of this room.
 */
async function threadOf(db: Queryable, command: RoomSendCommand): Promise<string | undefined> {
  if (command.replyTo === undefined) {
    return command.thread;
  }
  // A non-member learns nothing about the room's messages.
  await membershipOf(db, command.roomId, command.sender);
  const rows = await db.query<{ id: string; thread: string | null }[]>(
    `SELECT id, thread FROM room_messages WHERE room_id = $1 AND id = $2 AND kind = 'message'`,
    [command.roomId, command.replyTo],
  );
  const parent = rows[0];
  if (parent === undefined) {
    throw new AppError('message-not-found', {
      detail: `reply_to ${command.replyTo} is not a message of this room`,
      fields: [{ name: 'reply_to', reason: 'no such message in this room' }],
    });
  }

  return command.thread ?? parent.thread ?? parent.id;
}

/** The message first stored under a repeated idempotency key; the same key on another body is a client bug. */
async function firstSend(db: Queryable, command: RoomSendCommand): Promise<RoomSendResult> {
  const rows = await db.query<{ id: string; body: string | null }[]>(
    'SELECT id, body FROM room_messages WHERE room_id = $1 AND sender = $2 AND client_id = $3',
    [command.roomId, command.sender, command.clientId],
  );
  const first = rows[0];
  if (first === undefined) {
    throw new Error('idempotency key conflicted but no first message was found');
  }
  if (first.body !== command.body) {
    throw new AppError('idempotency-key-reused', {
      detail: `message ${first.id} was sent to room ${command.roomId} with this key`,
    });
  }

  return { id: first.id, duplicate: true };
}
