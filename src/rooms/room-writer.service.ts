import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import { messageIds } from '#src/common/ids.js';
import type { NewEvent } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery } from '#src/routing/server-events.js';
import {
  toRoomMessageView,
  type RoomEntryData,
  type RoomEntryKind,
  type RoomMessageView,
} from '#src/rooms/room-message-view.js';
import { translateRoomWriteError } from '#src/rooms/room-store.js';

/** An archive entry to store: a message, or a change to the room. */
export interface NewRoomEntry {
  readonly kind: RoomEntryKind;
  readonly sender: string | null;
  readonly body?: string;
  readonly clientId?: string;
  readonly member?: string;
  readonly data?: RoomEntryData;
}

interface Push {
  readonly jids: readonly string[];
  readonly delivery: Delivery;
  readonly exceptSession?: string;
}

/**
 * One change to a room: its archive entries and its events are written in
 * the transaction; its live pushes wait for the commit, so nobody hears of
 * a change that did not happen.
 */
export class RoomTransaction {
  readonly events: NewEvent[] = [];
  readonly pushes: Push[] = [];

  constructor(readonly manager: EntityManager) {}

  async append(roomId: string, entry: NewRoomEntry): Promise<RoomMessageView> {
    const row = {
      room_id: roomId,
      id: messageIds.next(),
      sender: entry.sender,
      kind: entry.kind,
      body: entry.body ?? null,
      client_id: entry.clientId ?? null,
      member: entry.member ?? null,
      data: entry.data ?? null,
      reply_to: null,
      thread: null,
    };
    await this.manager.query(
      `INSERT INTO room_messages (room_id, id, sender, kind, body, client_id, member, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        row.room_id,
        row.id,
        row.sender,
        row.kind,
        row.body,
        row.client_id,
        row.member,
        row.data === null ? null : JSON.stringify(row.data),
      ],
    );

    return toRoomMessageView(row);
  }

  record(event: NewEvent): void {
    this.events.push(event);
  }

  push(jids: readonly string[], delivery: Delivery, exceptSession?: string): void {
    this.pushes.push({ jids, delivery, ...(exceptSession === undefined ? {} : { exceptSession }) });
  }
}

@Injectable()
export class RoomWriter {
  private readonly logger = new Logger('Rooms');

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: EventRecorder,
    private readonly router: RouterService,
  ) {}

  /** Runs a change in a transaction of its own, then publishes its events and pushes. */
  async run<T>(roomId: string, work: (tx: RoomTransaction) => Promise<T>): Promise<T> {
    let change: { result: T; afterCommit: () => Promise<void> };
    try {
      change = await this.dataSource.transaction((manager) => this.within(manager, work));
    } catch (error: unknown) {
      throw translateRoomWriteError(error, roomId);
    }
    await change.afterCommit();

    return change.result;
  }

  /** Runs a change inside someone else's transaction; they call `afterCommit` once it commits. */
  async within<T>(
    manager: EntityManager,
    work: (tx: RoomTransaction) => Promise<T>,
  ): Promise<{ result: T; afterCommit: () => Promise<void> }> {
    const tx = new RoomTransaction(manager);
    const result = await work(tx);
    const recorded = await this.events.record(manager, tx.events);

    return {
      result,
      afterCommit: async () => {
        if (recorded > 0) {
          this.events.committed();
        }
        await this.deliver(tx.pushes);
      },
    };
  }

  /** Stored is what counts: a routing failure is logged, and members catch up from the archive. */
  private async deliver(pushes: readonly Push[]): Promise<void> {
    await Promise.all(
      pushes.map((push) =>
        this.router
          .deliverToEach(push.jids, push.delivery, push.exceptSession)
          .catch((error: unknown) =>
            this.logger.error(
              { err: error, event: push.delivery.event },
              'live room delivery failed after commit',
            ),
          ),
      ),
    );
  }
}
