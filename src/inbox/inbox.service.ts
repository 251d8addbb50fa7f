import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { parseUserAddress, UserRef } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { timestampOf } from '#src/common/ids.js';
import { DEFAULT_PAGE_SIZE } from '#src/common/paging.js';
import { queryPrepared } from '#src/database/prepared-query.js';
import type { InboxFlagsDto, InboxQuery } from '#src/inbox/dto/inbox.dto.js';
import type { InboxChangeView, InboxEntryView } from '#src/inbox/inbox-view.js';
import type { ConversationKind } from '#src/messaging/message-view.js';
import { RouterService } from '#src/routing/router.service.js';

interface InboxRow {
  kind: ConversationKind;
  conversation: string;
  last_message_id: string;
  last_from: string;
  last_body: string;
  unread: number;
  muted_until: Date | null;
  archived: boolean;
  pinned: boolean;
}

const COLUMNS =
  'kind, conversation, last_message_id, last_from, last_body, unread, muted_until, archived, pinned';

export interface UnreadTotal {
  readonly unread: number;
  readonly conversations: number;
  readonly muted_unread: number;
}

/**
 * Reads the inbox and sets its flags. The entries themselves are written
 * by the archive writers, in the transaction that stores each message.
 */
@Injectable()
export class InboxService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly router: RouterService,
  ) {}

  /** The newest activity first; `before_id` continues after the last entry of a page. */
  async list(user: UserRef, query: InboxQuery): Promise<InboxEntryView[]> {
    const params: unknown[] = [user.id, query.archived ?? false];
    const conditions = ['owner_id = $1', 'archived = $2'];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (query.before_id !== undefined) {
      add('last_message_id < ?::uuid', query.before_id);
    }
    if (query.type !== undefined) {
      add('kind = ?', query.type);
    }
    if (query.unread === true) {
      conditions.push('unread > 0');
    } else if (query.unread === false) {
      conditions.push('unread = 0');
    }
    params.push(query.limit ?? DEFAULT_PAGE_SIZE);
    // One prepared statement per combination of filters (twelve at most); read at every XMPP login.
    const shape = [
      query.before_id === undefined ? '' : 'b',
      query.type === undefined ? '' : 't',
      query.unread === undefined ? '' : query.unread ? 'u' : 'r',
    ].join('');
    const rows = await queryPrepared<InboxRow>(
      this.dataSource.manager,
      `inbox-list-${shape}`,
      `SELECT ${COLUMNS} FROM inbox_entries WHERE ${conditions.join(' AND ')}
       ORDER BY last_message_id DESC LIMIT $${params.length}`,
      params,
    );

    return rows.map(toView);
  }

  async get(user: UserRef, kind: ConversationKind, id: string): Promise<InboxEntryView> {
    const rows = await this.dataSource.query<InboxRow[]>(
      `SELECT ${COLUMNS} FROM inbox_entries WHERE owner_id = $1 AND kind = $2 AND conversation = $3`,
      [user.id, kind, conversationKey(kind, id)],
    );

    return toView(found(rows[0], kind, id));
  }

  /** For badges: one range of the primary key, the user's entries. */
  async unreadTotal(user: UserRef): Promise<UnreadTotal> {
    const rows = await this.dataSource.query<
      { unread: string | null; conversations: string; muted_unread: string | null }[]
    >(
      `SELECT
         sum(unread) FILTER (WHERE muted_until IS NULL OR muted_until <= now()) AS unread,
         count(*) FILTER (WHERE muted_until IS NULL OR muted_until <= now()) AS conversations,
         sum(unread) FILTER (WHERE muted_until > now()) AS muted_unread
       FROM inbox_entries WHERE owner_id = $1 AND unread > 0`,
      [user.id],
    );
    const row = rows[0]!;

    return {
      unread: Number(row.unread ?? 0),
      conversations: Number(row.conversations),
      muted_unread: Number(row.muted_unread ?? 0),
    };
  }

  async setFlags(
    user: UserRef,
    kind: ConversationKind,
    id: string,
    flags: InboxFlagsDto,
  ): Promise<InboxEntryView> {
    const rows = await this.dataSource.query<[InboxRow[], number]>(
      `UPDATE inbox_entries SET
         muted_until = CASE WHEN $4 THEN to_timestamp($5::double precision / 1000) ELSE muted_until END,
         archived = coalesce($6, archived),
         pinned = coalesce($7, pinned)
       WHERE owner_id = $1 AND kind = $2 AND conversation = $3
       RETURNING ${COLUMNS}`,
      [
        user.id,
        kind,
        conversationKey(kind, id),
        flags.muted_until !== undefined,
        flags.muted_until ?? null,
        flags.archived ?? null,
        flags.pinned ?? null,
      ],
    );
    const entry = toView(found(rows[0][0], kind, id));
    await this.push(user, entry);

    return entry;
  }

  /** Sets the unread count to zero, without a marker. */
  async reset(user: UserRef, kind: ConversationKind, id: string): Promise<InboxEntryView> {
    const rows = await this.dataSource.query<[InboxRow[], number]>(
      `UPDATE inbox_entries SET unread = 0
       WHERE owner_id = $1 AND kind = $2 AND conversation = $3
       RETURNING ${COLUMNS}`,
      [user.id, kind, conversationKey(kind, id)],
    );
    const entry = toView(found(rows[0][0], kind, id));
    await this.push(user, entry);

    return entry;
  }

  private async push(user: UserRef, entry: InboxEntryView): Promise<void> {
    const change: InboxChangeView = {
      type: entry.type,
      id: entry.id,
      unread: entry.unread,
      muted_until: entry.muted_until,
      archived: entry.archived,
      pinned: entry.pinned,
    };
    await this.router.deliver(user.jid, { event: 'inbox', data: change });
  }
}

/** A chat is named by the peer's normalized bare JID; a room by its id as given. */
export function conversationKey(kind: ConversationKind, id: string): string {
  return kind === 'chat' ? parseUserAddress(id, 'id') : id;
}

function found(row: InboxRow | undefined, kind: ConversationKind, id: string): InboxRow {
  if (row === undefined) {
    throw new AppError('conversation-not-found', {
      detail: `no ${kind} conversation ${id} in your inbox`,
    });
  }

  return row;
}

function toView(row: InboxRow): InboxEntryView {
  return {
    type: row.kind,
    id: row.conversation,
    last_message: {
      id: row.last_message_id,
      from: row.last_from,
      body: row.last_body,
      timestamp: timestampOf(row.last_message_id),
    },
    unread: row.unread,
    muted_until: row.muted_until?.getTime() ?? null,
    archived: row.archived,
    pinned: row.pinned,
  };
}
