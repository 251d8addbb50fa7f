import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { DEFAULT_PAGE_SIZE, type ArchivePageQuery } from '#src/common/paging.js';
import { lowestIdAt, timestampOf } from '#src/common/ids.js';
import type { MessageView } from '#src/messaging/message-view.js';

interface ArchiveRow {
  id: string;
  peer: string;
  outgoing: boolean;
  body: string;
  client_id: string | null;
}

export interface ArchiveOwner {
  readonly id: string;
  readonly jid: string;
}

/** Reads a user's archive: everything, or one conversation, a page at a time. */
@Injectable()
export class ArchiveService {
  constructor(private readonly dataSource: DataSource) {}

  async page(owner: ArchiveOwner, query: ArchivePageQuery, peer?: string): Promise<MessageView[]> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const conditions = ['owner_id = $1'];
    const params: unknown[] = [owner.id];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (peer !== undefined) {
      add('peer = ?', peer);
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
      `SELECT id, peer, outgoing, body, client_id FROM archived_messages
       WHERE ${conditions.join(' AND ')}
       ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT $${params.length}`,
      params,
    );
    const ordered = forward ? rows : rows.reverse();

    return ordered.map((row) => toView(owner.jid, row));
  }

  /** Messages after `afterId`, oldest first, for a reconnecting stream. */
  since(owner: ArchiveOwner, afterId: string, limit: number): Promise<MessageView[]> {
    return this.page(owner, { after_id: afterId, limit });
  }
}

export function toView(ownerJid: string, row: ArchiveRow): MessageView {
  return {
    id: row.id,
    from: row.outgoing ? ownerJid : row.peer,
    to: row.outgoing ? row.peer : ownerJid,
    body: row.body,
    timestamp: timestampOf(row.id),
    direction: row.outgoing ? 'out' : 'in',
    ...(row.outgoing && row.client_id !== null ? { client_id: row.client_id } : {}),
  };
}
