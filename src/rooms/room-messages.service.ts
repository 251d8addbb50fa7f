import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';
import { lowestIdAt, messageIds, timestampOf } from '#src/common/ids.js';
import { DEFAULT_PAGE_SIZE, type ArchivePageQuery } from '#src/common/paging.js';
import { AppConfig } from '#src/config/app-config.js';
import { roomConversation } from '#src/events/event-catalogue.js';
import { MetricsService } from '#src/observability/metrics.service.js';
import {
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
  readonly source: 'client' | 'admin';
  /** The sending session, which gets no copy of its own message. */
  readonly senderSession?: string;
}

export interface RoomSendResult {
  readonly id: string;
  readonly duplicate: boolean;
}

const ENTRY_COLUMNS = 'room_id, id, sender, kind, body, client_id, member, data, reply_to, thread';

interface SendRow {
  domain: string;
  id: string | null;
  members: string[];
}

/** Room messages: stored once, fanned out to every member's sessions; and the room archive. */
@Injectable()
export class RoomMessagesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: RoomWriter,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
  ) {}

  async send(command: RoomSendCommand): Promise<RoomSendResult> {
    const bytes = Buffer.byteLength(command.body, 'utf8');
    if (bytes > this.config.messageMaxBytes) {
      throw new AppError('message-too-large', {
        detail: `body is ${bytes} bytes; the limit is ${this.config.messageMaxBytes}`,
        fields: [{ name: 'body', reason: `longer than ${this.config.messageMaxBytes} bytes` }],
      });
    }
    const id = messageIds.next();
    const result = await this.writer.run(command.roomId, async (tx) => {
      const row = await insertMessage(tx.manager, command, id);
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
        },
      });
      const view: RoomMessageView = {
        id,
        room: command.roomId,
        kind: 'message',
        from: command.sender,
        timestamp,
        body: command.body,
      };
      const others = row.members.filter((jid) => jid !== command.sender);
      tx.push(others, { event: 'room:message', data: view });
      if (row.members.length > others.length) {
        const own =
          command.clientId === undefined ? view : { ...view, client_id: command.clientId };
        tx.push([command.sender], { event: 'room:message', data: own }, command.senderSession);
      }

      return { id, duplicate: false };
    });
    if (!result.duplicate) {
      this.metrics.messagesAccepted.inc({ source: command.source });
    }

    return result;
  }

  /** The room archive, oldest first: same paging as the one-to-one archive. */
  async page(
    roomId: string,
    reader: string | null,
    query: ArchivePageQuery,
  ): Promise<RoomMessageView[]> {
    if (reader === null) {
      await roomById(this.dataSource, roomId);
    } else {
      await membershipOf(this.dataSource, roomId, reader);
    }
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const conditions = ['room_id = $1'];
    const params: unknown[] = [roomId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
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
      `SELECT ${ENTRY_COLUMNS} FROM room_messages WHERE ${conditions.join(' AND ')}
       ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT $${params.length}`,
      params,
    );
    const ordered = forward ? rows : rows.reverse();

    return ordered.map((row) => toRoomMessageView(row, reader ?? undefined));
  }
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
 * idempotency key stores nothing), and read the room's domain and members
 * for the events and the fan-out. No row: not a member; a null id: a repeat.
 */
async function insertMessage(
  db: Queryable,
  command: RoomSendCommand,
  id: string,
): Promise<SendRow | undefined> {
  const rows = await db.query<SendRow[]>(
    `WITH sender AS (
       SELECT m.jid, r.domain FROM room_members m JOIN rooms r ON r.id = m.room_id
       WHERE m.room_id = $1 AND m.jid = $2
     ), inserted AS (
       INSERT INTO room_messages (room_id, id, sender, kind, body, client_id)
       SELECT $1, $3::uuid, sender.jid, 'message', $4, $5 FROM sender
       ON CONFLICT (room_id, sender, client_id) WHERE client_id IS NOT NULL DO NOTHING
       RETURNING id
     )
     SELECT sender.domain, (SELECT id FROM inserted) AS id,
       ARRAY(SELECT jid FROM room_members WHERE room_id = $1) AS members
     FROM sender`,
    [command.roomId, command.sender, id, command.body, command.clientId ?? null],
  );

  return rows[0];
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
