import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';

import { messageIds, timestampOf } from '#src/common/ids.js';
import { currentRequestId } from '#src/common/request-context.js';
import { queryPrepared } from '#src/database/prepared-query.js';
import { directConversation, type NewEvent } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { MetricsService } from '#src/observability/metrics.service.js';

/** A message to store on both sides of a one-to-one conversation. */
export interface ArchiveWrite {
  /** Null when the sender has no archive here (a system sender). */
  readonly senderId: string | null;
  readonly senderJid: string;
  readonly recipientId: string;
  readonly recipientJid: string;
  readonly body: string;
  readonly clientId?: string;
  readonly replyTo?: string;
  readonly thread?: string;
  /** The recipient blocks the sender (XEP-0191): kept in the sender's archive only, with no event. */
  readonly senderOnly?: boolean;
}

/** A conversation's inbox entry as the write left it, for the live push. */
export interface InboxChange {
  readonly ownerId: string;
  /** The other side's bare JID. */
  readonly conversation: string;
  readonly unread: number;
}

export interface ArchiveWriteResult {
  readonly id: string;
  /** True when the idempotency key was seen before: nothing new was stored. */
  readonly duplicate: boolean;
  /** The body as first stored, which a duplicate may differ from. */
  readonly body: string;
  readonly recipientJid: string;
  /** The inbox entries this message changed (none for a duplicate). */
  readonly inbox: readonly InboxChange[];
}

interface Pending {
  readonly write: ArchiveWrite;
  /** The request that sent it, carried into its events (a batch runs in the first request's context). */
  readonly requestId?: string;
  readonly resolve: (result: ArchiveWriteResult) => void;
  readonly reject: (error: unknown) => void;
}

const MAX_BATCH = 256;

/**
 * Group commit for the archive. Requests queue here; one transaction at a
 * time takes everything queued so far and commits it together, so the cost
 * of a commit is shared under load while an idle server commits each
 * message at once. A caller's promise settles only after its transaction
 * has committed: an accepted message is durable.
 *
 * Ids are minted when a batch is written, in queue order, and batches commit
 * one after another, so on one node ids become visible in ascending order
 * and a reader syncing forward by id never skips a message that commits late.
 */
@Injectable()
export class ArchiveWriter {
  private readonly logger = new Logger('ArchiveWriter');
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    private readonly events: EventRecorder,
  ) {}

  write(write: ArchiveWrite): Promise<ArchiveWriteResult> {
    const requestId = currentRequestId();

    return new Promise((resolve, reject) => {
      this.queue.push({
        write,
        resolve,
        reject,
        ...(requestId === undefined ? {} : { requestId }),
      });
      if (!this.flushing) {
        void this.flush();
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.commitBatch(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    this.metrics.archiveBatchSize.observe(batch.length);
    const started = performance.now();
    try {
      const writes = batch.map((item) => item.write);
      const domains = writes.map((write) => domainOf(write.recipientJid));
      const withEvents =
        this.events.wantsAnyCached('message.created', domains) ??
        (await this.events.wantsAny('message.created', domains));
      let results: ArchiveWriteResult[];
      if (withEvents) {
        // The message.created events commit with the messages, or not at all.
        results = await this.dataSource.transaction(async (manager) => {
          const written = await insertBatch(manager, writes);
          await this.events.record(manager, createdEvents(batch, written));

          return written;
        });
        this.events.committed();
      } else {
        // Both sides in one statement: atomic on its own, one round trip instead of four.
        results = await insertBatch(this.dataSource.manager, writes);
      }
      this.metrics.archiveCommitDuration.observe((performance.now() - started) / 1000);
      batch.forEach((item, index) => item.resolve(results[index]!));
    } catch (error: unknown) {
      if (batch.length === 1) {
        batch[0]!.reject(translateWriteError(error));

        return;
      }
      // One bad row (a recipient deleted a moment ago) must not fail its neighbours: retry each alone.
      this.logger.warn(
        { err: error, size: batch.length },
        'archive batch failed; retrying one by one',
      );
      for (const item of batch) {
        await this.commitBatch([item]);
      }
    }
  }
}

/** The columns of one write, as both statements' `input` has them. */
const INPUT_COLUMNS =
  'id, sender_id, sender_jid, recipient_id, recipient_jid, body, client_id, reply_to, thread, sender_only';

/**
 * What follows the input rows in both statements: the sender's side
 * (skipped for a repeated idempotency key), then the recipient's side of
 * every message whose sender side is new (a message to oneself is stored
 * once), then both owners' inbox entries: one row per owner and
 * conversation even when the batch holds several of its messages, since
 * one statement may not update a row twice.
 */
const INSERT_AFTER_INPUT = `sent AS (
       INSERT INTO archived_messages (owner_id, id, peer, outgoing, body, client_id, reply_to, thread)
       SELECT sender_id, id, recipient_jid, true, body, client_id, reply_to, thread FROM input WHERE sender_id IS NOT NULL
       ON CONFLICT (owner_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
       RETURNING id
     ), received AS (
       INSERT INTO archived_messages (owner_id, id, peer, outgoing, body, client_id, reply_to, thread)
       SELECT recipient_id, id, sender_jid, false, body, NULL, reply_to, thread FROM input
       WHERE (sender_id IS NULL OR id IN (SELECT id FROM sent)) AND recipient_id IS DISTINCT FROM sender_id
         AND NOT sender_only
       RETURNING id
     ), sides AS (
       SELECT input.sender_id AS owner_id, input.recipient_jid AS conversation, id, input.sender_jid, input.body, 0 AS incoming
       FROM sent JOIN input USING (id)
       UNION ALL
       SELECT input.recipient_id, input.sender_jid, id, input.sender_jid, input.body, 1
       FROM received JOIN input USING (id)
     ), latest AS (
       SELECT DISTINCT ON (owner_id, conversation) owner_id, conversation, id, sender_jid, body,
         sum(incoming) OVER (PARTITION BY owner_id, conversation) AS unread
       FROM sides ORDER BY owner_id, conversation, id DESC
     ), inbox AS (
       INSERT INTO inbox_entries AS entry (owner_id, kind, conversation, last_message_id, last_from, last_body, unread)
       SELECT owner_id, 'chat', conversation, id, sender_jid, body, unread FROM latest
       ON CONFLICT (owner_id, kind, conversation) DO UPDATE SET
         last_message_id = greatest(entry.last_message_id, excluded.last_message_id),
         last_from = CASE WHEN excluded.last_message_id > entry.last_message_id THEN excluded.last_from ELSE entry.last_from END,
         last_body = CASE WHEN excluded.last_message_id > entry.last_message_id THEN excluded.last_body ELSE entry.last_body END,
         unread = entry.unread + excluded.unread,
         archived = entry.archived AND excluded.unread = 0
       RETURNING owner_id, conversation, unread
     )
     SELECT id, NULL::uuid AS owner_id, NULL AS conversation, 0 AS unread FROM sent
     UNION ALL
     SELECT NULL, owner_id, conversation, unread FROM inbox`;

/** A batch, one array per column. */
const INSERT_BATCH = `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::boolean[])
         AS t(${INPUT_COLUMNS})
     ), ${INSERT_AFTER_INPUT}`;

/**
 * A single message, the usual batch when the server is not busy: plain
 * parameters, so no array is built and serialized for one row.
 */
const INSERT_ONE = `WITH input AS (
       SELECT * FROM (VALUES ($1::uuid, $2::uuid, $3::text, $4::uuid, $5::text, $6::text, $7::text, $8::uuid, $9::text, $10::boolean))
         AS t(${INPUT_COLUMNS})
     ), ${INSERT_AFTER_INPUT}`;

function batchValues(writes: readonly ArchiveWrite[], ids: readonly string[]): unknown[] {
  return [
    ids,
    writes.map((write) => write.senderId),
    writes.map((write) => write.senderJid),
    writes.map((write) => write.recipientId),
    writes.map((write) => write.recipientJid),
    writes.map((write) => write.body),
    writes.map((write) => write.clientId ?? null),
    writes.map((write) => write.replyTo ?? null),
    writes.map((write) => write.thread ?? null),
    writes.map((write) => write.senderOnly === true),
  ];
}

function singleValues(write: ArchiveWrite, id: string): unknown[] {
  return [
    id,
    write.senderId,
    write.senderJid,
    write.recipientId,
    write.recipientJid,
    write.body,
    write.clientId ?? null,
    write.replyTo ?? null,
    write.thread ?? null,
    write.senderOnly === true,
  ];
}

async function insertBatch(
  manager: EntityManager,
  writes: readonly ArchiveWrite[],
): Promise<ArchiveWriteResult[]> {
  const ids = writes.map(() => messageIds.next());
  const single = writes.length === 1;
  const rows = await queryPrepared<{
    id: string | null;
    owner_id: string | null;
    conversation: string | null;
    unread: number;
  }>(
    manager,
    single ? 'archive-insert-one' : 'archive-insert-batch',
    single ? INSERT_ONE : INSERT_BATCH,
    single ? singleValues(writes[0]!, ids[0]!) : batchValues(writes, ids),
  );
  const inserted = new Set<string>();
  const inbox = new Map<string, InboxChange>();
  for (const row of rows) {
    if (row.id !== null) {
      inserted.add(row.id);
    } else if (row.owner_id !== null && row.conversation !== null) {
      inbox.set(`${row.owner_id} ${row.conversation}`, {
        ownerId: row.owner_id,
        conversation: row.conversation,
        unread: Number(row.unread),
      });
    }
  }
  const results: ArchiveWriteResult[] = [];
  let duplicates = false;
  for (let index = 0; index < writes.length; index += 1) {
    const write = writes[index]!;
    const id = ids[index]!;
    if (write.senderId === null || inserted.has(id)) {
      results.push({
        id,
        duplicate: false,
        body: write.body,
        recipientJid: write.recipientJid,
        inbox: inboxChangesOf(write, inbox),
      });
    } else {
      duplicates = true;
      results.push(DUPLICATE);
    }
  }
  if (duplicates) {
    // A repeated idempotency key is rare: only then is the first message looked up.
    for (let index = 0; index < writes.length; index += 1) {
      if (results[index] === DUPLICATE) {
        results[index] = await findFirstSend(manager, writes[index]!);
      }
    }
  }

  return results;
}

/** Stands for a result still to be looked up by its idempotency key. */
const DUPLICATE: ArchiveWriteResult = {
  id: '',
  duplicate: true,
  body: '',
  recipientJid: '',
  inbox: [],
};

/** Both owners' inbox entries a new message changed (one for a message to oneself). */
function inboxChangesOf(
  write: ArchiveWrite,
  inbox: ReadonlyMap<string, InboxChange>,
): InboxChange[] {
  const changes: InboxChange[] = [];
  const own =
    write.senderId === null ? undefined : inbox.get(`${write.senderId} ${write.recipientJid}`);
  if (own !== undefined) {
    changes.push(own);
  }
  const peer =
    write.recipientId === write.senderId
      ? undefined
      : inbox.get(`${write.recipientId} ${write.senderJid}`);
  if (peer !== undefined) {
    changes.push(peer);
  }

  return changes;
}

function domainOf(jid: string): string {
  return jid.slice(jid.indexOf('@') + 1);
}

function createdEvents(
  batch: readonly Pending[],
  results: readonly ArchiveWriteResult[],
): NewEvent[] {
  return batch.flatMap(({ write, requestId }, index) => {
    const result = results[index]!;
    if (result.duplicate || write.senderOnly === true) {
      return [];
    }
    const event: NewEvent = {
      type: 'message.created',
      domain: domainOf(write.recipientJid),
      conversation: directConversation(write.senderJid, write.recipientJid),
      data: {
        id: result.id,
        from: write.senderJid,
        to: write.recipientJid,
        body: write.body,
        timestamp: timestampOf(result.id),
        ...(write.clientId === undefined ? {} : { client_id: write.clientId }),
        ...(write.replyTo === undefined ? {} : { reply_to: write.replyTo }),
        ...(write.thread === undefined ? {} : { thread: write.thread }),
      },
      ...(requestId === undefined ? {} : { requestId }),
    };

    return [event];
  });
}

/** The message first stored under a repeated idempotency key. */
async function findFirstSend(
  manager: EntityManager,
  write: ArchiveWrite,
): Promise<ArchiveWriteResult> {
  const rows = await manager.query<{ id: string; body: string; peer: string }[]>(
    'SELECT id, body, peer FROM archived_messages WHERE owner_id = $1 AND client_id = $2',
    [write.senderId, write.clientId],
  );
  const first = rows[0];
  if (first === undefined) {
    throw new Error('idempotency key conflicted but no first message was found');
  }

  return { id: first.id, duplicate: true, body: first.body, recipientJid: first.peer, inbox: [] };
}

/** PostgreSQL's foreign_key_violation: an owner was deleted between lookup and commit. */
const FOREIGN_KEY_VIOLATION = '23503';

function translateWriteError(error: unknown): unknown {
  if (
    error instanceof QueryFailedError &&
    (error.driverError as { code?: string }).code === FOREIGN_KEY_VIOLATION
  ) {
    return new AppError('user-not-found', {
      detail: 'the sender or recipient was deleted',
      cause: error,
    });
  }

  return error;
}
