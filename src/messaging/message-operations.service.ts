import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import { UserRef, UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { isEmoji } from '#src/common/emoji.js';
import { AppError } from '#src/common/errors/problems.js';
import { AppConfig } from '#src/config/app-config.js';
import { directConversation, type NewEvent } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { ARCHIVE_COLUMNS, ArchiveRow, toView } from '#src/messaging/archive.service.js';
import type { MessageView, ReactionChangeView } from '#src/messaging/message-view.js';
import { PeerNotifier } from '#src/messaging/peer-notifier.js';
import { RoomMessageOperations } from '#src/messaging/room-message-operations.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import { RouterService } from '#src/routing/router.service.js';

/** Distinct emoji one user may put on one message. */
export const MAX_REACTIONS_PER_USER = 20;

/** A one-to-one message as its reader's archive holds it, with the other side's account. */
interface ChatMessage {
  readonly row: ArchiveRow;
  readonly reader: UserRef;
  /** The other side's account, when its copy changes too: not for a system sender, a deleted user, or one who blocks the reader. */
  readonly peer: UserRef | undefined;
}

/**
 * Edits, retractions and reactions of one-to-one messages. Each changes both
 * sides of the message in one transaction with its webhook event, then tells
 * both participants' sessions. Only the author edits or retracts; anyone who
 * can see a message reacts to it.
 */
@Injectable()
export class MessageOperationsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly router: RouterService,
    private readonly events: EventRecorder,
    private readonly peers: PeerNotifier,
    private readonly blocking: BlockingService,
    private readonly rooms: RoomMessageOperations,
    private readonly config: AppConfig,
  ) {}

  /** Corrects a message; the answer is the message as the author's archive (or the room's) shows it. */
  async edit(
    user: UserRef,
    id: string,
    body: string,
    senderSession?: string,
  ): Promise<MessageView | RoomMessageView> {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > this.config.messageMaxBytes) {
      throw new AppError('message-too-large', {
        detail: `body is ${bytes} bytes; the limit is ${this.config.messageMaxBytes}`,
        fields: [{ name: 'body', reason: `longer than ${this.config.messageMaxBytes} bytes` }],
      });
    }
    if (!(await this.inArchive(user, id))) {
      return this.rooms.edit(user, id, body);
    }
    const { view, recorded, peer } = await this.dataSource.transaction(async (manager) => {
      const message = await this.authored(manager, user, id);
      // An UPDATE answers [rows, count].
      const [rows] = await manager.query<[(ArchiveRow & { mine: boolean })[], number]>(
        `UPDATE archived_messages SET
           revisions = coalesce(revisions, '[]'::jsonb)
             || jsonb_build_array(jsonb_build_object('body', body, 'replaced_at', now())),
           body = $3, edited_at = now()
         WHERE id = $1 AND owner_id = ANY($2::uuid[])
         RETURNING owner_id = $4 AS mine, ${ARCHIVE_COLUMNS}`,
        [id, ownersOf(message), body, user.id],
      );
      await refreshInboxPreview(manager, id, message, body);
      const own = rows.find((row) => row.mine)!;
      const view = toView(user.jid, own);
      const count = await this.events.record(manager, [
        this.chatEvent(user.jid, message.row.peer, {
          type: 'message.edited',
          data: {
            id,
            from: view.from,
            to: view.to,
            body,
            revision: view.revision ?? 1,
            edited_at: view.edited_at ?? Date.now(),
          },
        }),
      ]);

      return { view, recorded: count, peer: message.row.peer };
    });
    this.afterCommit(recorded);
    await Promise.all([
      this.router.deliver(user.jid, { event: 'message:edited', data: view }, senderSession),
      this.peers.tell(user, peer, { event: 'message:edited', data: mirrored(view) }),
    ]);

    return view;
  }

  /** Retracts a message: both sides keep the id and lose the body, its revisions and reactions. Repeating it changes nothing. */
  async retract(user: UserRef, id: string, senderSession?: string): Promise<void> {
    if (!(await this.inArchive(user, id))) {
      return this.rooms.retract(user, id);
    }
    const outcome = await this.dataSource.transaction(async (manager) => {
      const message = await this.authored(manager, user, id, { allowRetracted: true });
      if (message.row.retracted_at !== null) {
        return undefined;
      }
      const owners = ownersOf(message);
      const [[row]] = await manager.query<[{ retracted_at: Date }[], number]>(
        `UPDATE archived_messages SET body = '', revisions = NULL, edited_at = NULL, retracted_at = now()
         WHERE id = $1 AND owner_id = ANY($2::uuid[])
         RETURNING retracted_at`,
        [id, owners],
      );
      await manager.query('DELETE FROM message_reactions WHERE message_id = $1', [id]);
      await refreshInboxPreview(manager, id, message, '');
      const view = toView(user.jid, message.row);
      const retractedAt = row!.retracted_at.getTime();
      const recorded = await this.events.record(manager, [
        this.chatEvent(user.jid, message.row.peer, {
          type: 'message.retracted',
          data: { id, from: view.from, to: view.to, retracted_at: retractedAt },
        }),
      ]);

      return {
        recorded,
        peer: message.row.peer,
        from: view.from,
        to: view.to,
        retractedAt,
        clientId: message.row.client_id,
      };
    });
    if (outcome === undefined) {
      return;
    }
    this.afterCommit(outcome.recorded);
    const data = { id, from: outcome.from, to: outcome.to, retracted_at: outcome.retractedAt };
    await Promise.all([
      this.router.deliver(
        user.jid,
        {
          event: 'message:retracted',
          data: outcome.clientId === null ? data : { ...data, client_id: outcome.clientId },
        },
        senderSession,
      ),
      this.peers.tell(user, outcome.peer, { event: 'message:retracted', data }),
    ]);
  }

  /** Adds or removes the user's reaction; adding one already there, or removing one that is not, changes nothing. */
  async react(user: UserRef, id: string, emoji: string, added: boolean): Promise<void> {
    if (!isEmoji(emoji)) {
      throw new AppError('validation', {
        detail: 'a reaction is one emoji',
        fields: [{ name: 'emoji', reason: 'not an emoji' }],
      });
    }
    if (!(await this.inArchive(user, id))) {
      return this.rooms.react(user, id, emoji, added, (manager) =>
        this.changeReaction(manager, user, id, emoji, added),
      );
    }
    const outcome = await this.dataSource.transaction(async (manager) => {
      const message = await this.visible(manager, user, id);
      if (message.row.retracted_at !== null) {
        throw new AppError('message-retracted', { detail: `message ${id} was retracted` });
      }
      if (!(await this.changeReaction(manager, user, id, emoji, added))) {
        return undefined;
      }
      const recorded = await this.events.record(manager, [
        this.chatEvent(user.jid, message.row.peer, {
          type: 'message.reacted',
          data: { id, by: user.jid, emoji, added },
        }),
      ]);

      return { recorded, peer: message.row.peer };
    });
    if (outcome === undefined) {
      return;
    }
    this.afterCommit(outcome.recorded);
    const change = (conversation: string): ReactionChangeView => ({
      id,
      conversation: { type: 'chat', id: conversation },
      by: user.jid,
      emoji,
      added,
    });
    await Promise.all([
      this.router.deliver(user.jid, { event: 'message:reaction', data: change(outcome.peer) }),
      this.peers.tell(user, outcome.peer, { event: 'message:reaction', data: change(user.jid) }),
    ]);
  }

  /** Whether the message is in the user's one-to-one archive (else it may be a room message). */
  private async inArchive(user: UserRef, id: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      'SELECT 1 FROM archived_messages WHERE owner_id = $1 AND id = $2',
      [user.id, id],
    );

    return rows.length > 0;
  }

  private async changeReaction(
    manager: EntityManager,
    user: UserRef,
    id: string,
    emoji: string,
    added: boolean,
  ): Promise<boolean> {
    if (added) {
      return this.addReaction(manager, user, id, emoji);
    }
    const [, removed] = await manager.query<[unknown[], number]>(
      'DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3',
      [id, user.id, emoji],
    );

    return removed > 0;
  }

  private async addReaction(
    manager: EntityManager,
    user: UserRef,
    id: string,
    emoji: string,
  ): Promise<boolean> {
    // The count and the insert in one statement, so concurrent adds cannot pass the limit together.
    const rows = await manager.query<{ inserted: boolean | null; present: boolean }[]>(
      `WITH mine AS (
         SELECT count(*) AS n, bool_or(emoji = $3) AS present
         FROM message_reactions WHERE message_id = $1 AND user_id = $2
       ), added AS (
         INSERT INTO message_reactions (message_id, user_id, emoji)
         SELECT $1, $2, $3 FROM mine WHERE n < $4 AND NOT coalesce(present, false)
         ON CONFLICT DO NOTHING
         RETURNING true AS inserted
       )
       SELECT (SELECT inserted FROM added) AS inserted,
              (SELECT coalesce(present, false) FROM mine) AS present`,
      [id, user.id, emoji, MAX_REACTIONS_PER_USER],
    );
    const row = rows[0]!;
    if (row.inserted === true) {
      return true;
    }
    if (row.present) {
      return false;
    }
    throw new AppError('reactions-limit', {
      detail: `at most ${MAX_REACTIONS_PER_USER} different reactions per user on one message`,
    });
  }

  /** The message in the user's archive, locked for the change; otherwise not found. */
  private async visible(manager: EntityManager, user: UserRef, id: string): Promise<ChatMessage> {
    const rows = await manager.query<ArchiveRow[]>(
      `SELECT ${ARCHIVE_COLUMNS} FROM archived_messages WHERE owner_id = $1 AND id = $2 FOR UPDATE`,
      [user.id, id],
    );
    const row = rows[0];
    if (row === undefined) {
      throw new AppError('message-not-found', { detail: `no message ${id} in your archive` });
    }
    const account = row.peer === user.jid ? user : await this.users.findByJid(row.peer);
    // Someone who blocks the user keeps their copy as it was (XEP-0191).
    const blocks =
      account !== undefined &&
      account !== user &&
      (await this.blocking.isBlocked(account.id, user.jid));

    return { row, reader: user, peer: blocks ? undefined : account };
  }

  private async authored(
    manager: EntityManager,
    user: UserRef,
    id: string,
    options: { allowRetracted?: boolean } = {},
  ): Promise<ChatMessage> {
    const message = await this.visible(manager, user, id);
    if (!message.row.outgoing) {
      throw new AppError('not-author', { detail: `message ${id} was sent by ${message.row.peer}` });
    }
    if (message.row.retracted_at !== null && options.allowRetracted !== true) {
      throw new AppError('message-retracted', { detail: `message ${id} was retracted` });
    }

    return message;
  }

  private chatEvent(
    author: string,
    peer: string,
    event: Pick<NewEvent, 'type' | 'data'>,
  ): NewEvent {
    return {
      ...event,
      domain: peer.slice(peer.indexOf('@') + 1),
      conversation: directConversation(author, peer),
    } as NewEvent;
  }

  private afterCommit(recorded: number): void {
    if (recorded > 0) {
      this.events.committed();
    }
  }
}

function ownersOf(message: ChatMessage): string[] {
  return [message.reader.id, ...(message.peer === undefined ? [] : [message.peer.id])];
}

/**
 * The inbox entries whose last message this is show its new text. Each
 * side's entry is looked up by its key (owner and the other side's JID):
 * the table has no index on the last message.
 */
async function refreshInboxPreview(
  manager: EntityManager,
  id: string,
  message: ChatMessage,
  body: string,
): Promise<void> {
  const owners = [message.reader.id];
  const conversations = [message.row.peer];
  if (message.peer !== undefined) {
    owners.push(message.peer.id);
    conversations.push(message.reader.jid);
  }
  await manager.query(
    `UPDATE inbox_entries AS entry SET last_body = $4
     FROM unnest($2::uuid[], $3::text[]) AS side(owner_id, conversation)
     WHERE entry.owner_id = side.owner_id AND entry.kind = 'chat'
       AND entry.conversation = side.conversation AND entry.last_message_id = $1`,
    [id, owners, conversations, body],
  );
}

/** The other participant's view of a one-to-one message. */
function mirrored(view: MessageView): MessageView {
  const copy: { -readonly [K in keyof MessageView]: MessageView[K] } = {
    ...view,
    direction: view.direction === 'out' ? 'in' : 'out',
  };
  delete copy.client_id;

  return copy;
}
