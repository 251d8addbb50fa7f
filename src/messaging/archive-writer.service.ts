import { Injectable, Logger } from '@nestjs/common';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';

import { AppError } from '#src/common/errors/problems.js';

import { messageIds, timestampOf } from '#src/common/ids.js';
import { currentRequestId } from '#src/common/request-context.js';
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
  /** The rows the write updates besides its own: both sides' inbox entries (and the conversation's event sequence). */
  readonly sides: readonly [string, string];
  /** The request that sent it, carried into its events (a batch runs in the first request's context). */
  readonly requestId?: string;
  readonly resolve: (result: ArchiveWriteResult) => void;
  readonly reject: (error: unknown) => void;
}

const MAX_BATCH = 256;

/**
 * One batch committing and the next written behind it. More would not
 * share commits any better: what queues meanwhile joins the next batch.
 */
const MAX_IN_FLIGHT = 2;

/**
 * Group commit for the archive. Requests queue here; a batch takes
 * everything queued so far and writes it in one statement, so the cost of
 * a commit is shared under load while an idle server commits each message
 * at once. A caller's promise settles only after its batch has committed:
 * an accepted message is durable.
 *
 * Under load two batches overlap: once a batch's statement has run, the
 * next batch is written on another connection while the first waits for
 * its commit to reach the disk. Commits still happen one after another, in
 * batch order, and ids are minted when a batch is written, so on one node
 * ids become visible in ascending order and a reader syncing forward by id
 * never skips a message that commits late.
 */
@Injectable()
export class ArchiveWriter {
  private readonly logger = new Logger('ArchiveWriter');
  private queue: Pending[] = [];
  /** A batch's statement is running; the next batch starts when it has run. */
  private writing = false;
  /** Batches started and not yet committed or failed: at most two, one committing and one written behind it. */
  private inFlight = 0;
  /** The latest batch until it has committed or failed. */
  private last: InFlight | undefined;

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
        sides: [
          `${write.senderId} ${write.recipientJid}`,
          `${write.recipientId} ${write.senderJid}`,
        ],
        resolve,
        reject,
        ...(requestId === undefined ? {} : { requestId }),
      });
      this.startBatch();
    });
  }

  private startBatch(): void {
    if (this.writing || this.inFlight === MAX_IN_FLIGHT || this.queue.length === 0) {
      return;
    }
    const previous = this.last;
    const batch = this.takeBatch(previous?.sides);
    if (batch.length === 0) {
      // Everything queued waits for a row the batch in flight holds: it goes when that batch commits.
      return;
    }
    this.writing = true;
    this.inFlight += 1;
    let settle!: () => void;
    const current: InFlight = {
      committed: new Promise<void>((resolve) => {
        settle = resolve;
      }),
      sides: new Set(batch.flatMap((item) => item.sides)),
    };
    this.last = current;
    let written = false;
    const onWritten = (): void => {
      if (!written) {
        written = true;
        this.writing = false;
        this.startBatch();
      }
    };
    void this.commitBatch(batch, previous?.committed, onWritten).finally(() => {
      settle();
      if (this.last === current) {
        this.last = undefined;
      }
      this.inFlight -= 1;
      if (written) {
        this.startBatch();
      } else {
        onWritten();
      }
    });
  }

  /**
   * The next batch, in queue order. While a batch is in flight, a write
   * that updates one of its rows would wait on that row's lock until the
   * batch commits, and hold back the whole next batch with it: such a write
   * stays queued instead. Every write of a conversation has the same rows,
   * so each conversation keeps its order.
   */
  private takeBatch(held: ReadonlySet<string> | undefined): Pending[] {
    if (held === undefined) {
      return this.queue.splice(0, MAX_BATCH);
    }
    const batch: Pending[] = [];
    const waiting: Pending[] = [];
    for (const item of this.queue) {
      if (batch.length < MAX_BATCH && !held.has(item.sides[0]) && !held.has(item.sides[1])) {
        batch.push(item);
      } else {
        waiting.push(item);
      }
    }
    this.queue = waiting;

    return batch;
  }

  /**
   * Writes and commits one batch. `previous` settles when the batch before
   * it has committed or failed; this one commits only after. `onWritten`
   * is called once its statements have run, when the next batch may start.
   */
  private async commitBatch(
    batch: Pending[],
    previous: Promise<void> | undefined,
    onWritten: () => void,
  ): Promise<void> {
    this.metrics.archiveBatchSize.observe(batch.length);
    const started = performance.now();
    const writes = batch.map((item) => item.write);
    let results: ArchiveWriteResult[];
    try {
      const domains = writes.map((write) => domainOf(write.recipientJid));
      const withEvents =
        this.events.wantsAnyCached('message.created', domains) ??
        (await this.events.wantsAny('message.created', domains));
      if (withEvents || previous !== undefined || batch.length > 1) {
        results = await this.writeInTransaction(batch, withEvents, previous, onWritten);
      } else {
        // Idle, and nothing to record with it: one statement stores both sides and commits, one round trip.
        results = await insertBatch(this.dataSource.manager, writes);
      }
    } catch (error: unknown) {
      if (error instanceof CommitFailed) {
        this.logger.error({ err: error.cause, size: batch.length }, 'archive commit failed');
        batch.forEach((item) => item.reject(error.cause));
      } else {
        await this.retryAlone(batch, error, previous);
      }

      return;
    }
    this.metrics.archiveCommitDuration.observe((performance.now() - started) / 1000);
    batch.forEach((item, index) => item.resolve(results[index]!));
  }

  /**
   * The batch in a transaction of its own: the next batch may be written
   * while this one waits for the one before it to commit. The
   * message.created events commit with the messages, or not at all.
   */
  private async writeInTransaction(
    batch: readonly Pending[],
    withEvents: boolean,
    previous: Promise<void> | undefined,
    onWritten: () => void,
  ): Promise<ArchiveWriteResult[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      let results: ArchiveWriteResult[];
      try {
        results = await insertBatch(
          runner.manager,
          batch.map((item) => item.write),
        );
        if (withEvents) {
          await this.events.record(runner.manager, createdEvents(batch, results));
        }
      } catch (error: unknown) {
        await runner.rollbackTransaction();
        throw error;
      }
      onWritten();
      await previous;
      try {
        await runner.commitTransaction();
      } catch (error: unknown) {
        throw new CommitFailed(error);
      }
      if (withEvents) {
        this.events.committed();
      }

      return results;
    } finally {
      await runner.release();
    }
  }

  /**
   * A batch whose statement failed stored nothing. One bad row (a recipient
   * deleted a moment ago) must not fail its neighbours, so each is tried
   * again alone, after the batch before has committed and before the next
   * batch starts, with new ids: the ascending order holds.
   */
  private async retryAlone(
    batch: readonly Pending[],
    error: unknown,
    previous: Promise<void> | undefined,
  ): Promise<void> {
    if (batch.length === 1) {
      batch[0]!.reject(translateWriteError(error));

      return;
    }
    this.logger.warn(
      { err: error, size: batch.length },
      'archive batch failed; retrying one by one',
    );
    await previous;
    for (const item of batch) {
      await this.commitBatch([item], undefined, noop);
    }
  }
}

/** A batch from its start until it has committed or failed. */
interface InFlight {
  readonly committed: Promise<void>;
  /** The rows its statement locked, which the next batch leaves alone. */
  readonly sides: ReadonlySet<string>;
}

/** A commit that failed after its statements had run: the batch is refused, not retried out of order. */
class CommitFailed extends Error {
  constructor(cause: unknown) {
    super('archive commit failed', { cause });
  }
}

function noop(): void {}

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

/**
 * Runs a statement prepared once per database connection: the batch insert
 * runs on every commit, and its plan is the same every time, so it is not
 * parsed and planned again. Errors are TypeORM's, as from `manager.query`.
 * Outside a transaction the connection is taken from the driver's pool
 * directly: a TypeORM query runner per commit is garbage on the send path.
 */
async function queryPrepared<T>(
  manager: EntityManager,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const runner = manager.queryRunner;
  const client =
    runner === undefined
      ? await (manager.connection.driver as unknown as { readonly master: Pool }).master.connect()
      : ((await runner.connect()) as PoolClient);
  try {
    return (await client.query<T & QueryResultRow>({ name, text, values })).rows;
  } catch (error: unknown) {
    throw new QueryFailedError(text, values, error as Error);
  } finally {
    if (runner === undefined) {
      client.release();
    }
  }
}

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
