import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { DEFAULT_PAGE_SIZE, type ArchivePageQuery } from '#src/common/paging.js';
import { lowestIdAt, timestampOf } from '#src/common/ids.js';
import type { MessageRevision } from '#src/messaging/archived-message.entity.js';
import type { MessageView, ReactionCount } from '#src/messaging/message-view.js';

export interface ArchiveRow {
  id: string;
  peer: string;
  outgoing: boolean;
  body: string;
  client_id: string | null;
  reply_to: string | null;
  thread: string | null;
  revisions: MessageRevision[] | null;
  edited_at: Date | null;
  retracted_at: Date | null;
}

export const ARCHIVE_COLUMNS =
  'id, peer, outgoing, body, client_id, reply_to, thread, revisions, edited_at, retracted_at';

export interface ArchiveOwner {
  readonly id: string;
  readonly jid: string;
}

export interface ArchiveFilter {
  /** One conversation: the other side's bare JID. */
  readonly peer?: string;
  readonly thread?: string;
  /** Only messages after this id, whichever way the page is read (an exclusive lower bound). */
  readonly afterId?: string;
  /** Only the messages the owner received (`in`) or sent (`out`). */
  readonly direction?: 'in' | 'out';
}

/** Reads a user's archive: everything, or one conversation, a page at a time. */
@Injectable()
export class ArchiveService {
  constructor(private readonly dataSource: DataSource) {}

  async page(
    owner: ArchiveOwner,
    query: ArchivePageQuery,
    filter: ArchiveFilter = {},
  ): Promise<MessageView[]> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const conditions = ['owner_id = $1'];
    const params: unknown[] = [owner.id];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.peer !== undefined) {
      add('peer = ?', filter.peer);
    }
    if (filter.thread !== undefined) {
      add('thread = ?', filter.thread);
    }
    if (filter.direction !== undefined) {
      conditions.push(filter.direction === 'in' ? 'NOT outgoing' : 'outgoing');
    }
    if (filter.afterId !== undefined) {
      add('id > ?::uuid', filter.afterId);
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
    const rows = await this.dataSource.query<ArchiveRow[]>(
      `SELECT ${ARCHIVE_COLUMNS} FROM archived_messages
       WHERE ${conditions.join(' AND ')}
       ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT $${params.length}`,
      params,
    );
    const ordered = forward ? rows : rows.reverse();
    const reactions = await this.reactionsOf(
      owner.id,
      ordered.filter((row) => row.retracted_at === null).map((row) => row.id),
    );

    return ordered.map((row) => toView(owner.jid, row, reactions.get(row.id)));
  }

  /** One message of a user's archive. */
  async find(ownerId: string, id: string): Promise<ArchiveRow | undefined> {
    const rows = await this.dataSource.query<ArchiveRow[]>(
      `SELECT ${ARCHIVE_COLUMNS} FROM archived_messages WHERE owner_id = $1 AND id = $2`,
      [ownerId, id],
    );

    return rows[0];
  }

  /** One message the user sent, by the client's id for it (`client_id`, an XMPP origin-id). */
  async findSentByClientId(ownerId: string, clientId: string): Promise<ArchiveRow | undefined> {
    const rows = await this.dataSource.query<ArchiveRow[]>(
      `SELECT ${ARCHIVE_COLUMNS} FROM archived_messages
       WHERE owner_id = $1 AND client_id = $2 AND outgoing`,
      [ownerId, clientId],
    );

    return rows[0];
  }

  /** Messages after `afterId`, oldest first, for a reconnecting stream. */
  since(owner: ArchiveOwner, afterId: string, limit: number): Promise<MessageView[]> {
    return this.page(owner, { after_id: afterId, limit });
  }

  /** Reaction counts of some messages, as `reader` sees them. */
  async reactionsOf(
    readerId: string,
    messageIds: readonly string[],
  ): Promise<Map<string, ReactionCount[]>> {
    const counts = new Map<string, ReactionCount[]>();
    if (messageIds.length === 0) {
      return counts;
    }
    const rows = await this.dataSource.query<
      { message_id: string; emoji: string; count: string; mine: boolean }[]
    >(
      `SELECT message_id, emoji, count(*) AS count, bool_or(user_id = $2) AS mine
       FROM message_reactions WHERE message_id = ANY($1::uuid[])
       GROUP BY message_id, emoji
       ORDER BY message_id, count(*) DESC, min(created_at)`,
      [messageIds, readerId],
    );
    for (const row of rows) {
      let list = counts.get(row.message_id);
      if (list === undefined) {
        list = [];
        counts.set(row.message_id, list);
      }
      list.push({ emoji: row.emoji, count: Number(row.count), mine: row.mine });
    }

    return counts;
  }
}

export function toView(
  ownerJid: string,
  row: ArchiveRow,
  reactions?: readonly ReactionCount[],
): MessageView {
  return {
    id: row.id,
    from: row.outgoing ? ownerJid : row.peer,
    to: row.outgoing ? row.peer : ownerJid,
    body: row.body,
    timestamp: timestampOf(row.id),
    direction: row.outgoing ? 'out' : 'in',
    ...(row.outgoing && row.client_id !== null ? { client_id: row.client_id } : {}),
    ...(row.reply_to === null ? {} : { reply_to: row.reply_to }),
    ...(row.thread === null ? {} : { thread: row.thread }),
    ...(row.edited_at === null
      ? {}
      : { edited_at: row.edited_at.getTime(), revision: row.revisions?.length ?? 0 }),
    ...(row.retracted_at === null ? {} : { retracted_at: row.retracted_at.getTime() }),
    ...(reactions === undefined || reactions.length === 0 ? {} : { reactions }),
  };
}
