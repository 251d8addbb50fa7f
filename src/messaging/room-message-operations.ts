import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import type { UserRef } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { roomConversation, type NewEvent } from '#src/events/event-catalogue.js';
import { EventRecorder } from '#src/events/event-recorder.service.js';
import { findRoomMessage, type RoomTarget } from '#src/messaging/room-targets.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery } from '#src/routing/server-events.js';
import {
  ROOM_ENTRY_COLUMNS,
  toRoomMessageView,
  type RoomEntryRow,
  type RoomMessageView,
} from '#src/rooms/room-message-view.js';

/**
 * Edits, retractions and reactions of room messages, for members only:
 * the room message is stored once, so one row changes, with its event, and
 * every member's sessions hear of it (except members who block the one
 * acting, XEP-0191).
 */
@Injectable()
export class RoomMessageOperations {
  constructor(
    private readonly dataSource: DataSource,
    private readonly router: RouterService,
    private readonly events: EventRecorder,
    private readonly blocking: BlockingService,
  ) {}

  async edit(user: UserRef, id: string, body: string): Promise<RoomMessageView> {
    const { view, recorded, target } = await this.dataSource.transaction(async (manager) => {
      const target = await this.authored(manager, user, id);
      const [[row]] = await manager.query<[RoomEntryRow[], number]>(
        `UPDATE room_messages SET
           revisions = coalesce(revisions, '[]'::jsonb)
             || jsonb_build_array(jsonb_build_object('body', body, 'replaced_at', now())),
           body = $3, edited_at = now()
         WHERE room_id = $1 AND id = $2
         RETURNING ${ROOM_ENTRY_COLUMNS}`,
        [target.roomId, id, body],
      );
      await refreshInboxPreview(manager, target.roomId, id, body);
      const view = toRoomMessageView(row!, user.jid);
      const recorded = await this.events.record(manager, [
        roomEvent(target, {
          type: 'message.edited',
          data: {
            id,
            from: user.jid,
            to: target.roomId,
            body,
            revision: view.revision ?? 1,
            edited_at: view.edited_at ?? Date.now(),
          },
        }),
      ]);

      return { view, recorded, target };
    });
    await this.publish(user, target, recorded, { event: 'room:message:edited', data: view });

    return view;
  }

  async retract(user: UserRef, id: string): Promise<void> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      const target = await this.authored(manager, user, id, { allowRetracted: true });
      if (target.retractedAt !== null) {
        return undefined;
      }
      const [[row]] = await manager.query<[{ retracted_at: Date }[], number]>(
        `UPDATE room_messages SET body = '', revisions = NULL, edited_at = NULL, retracted_at = now()
         WHERE room_id = $1 AND id = $2
         RETURNING retracted_at`,
        [target.roomId, id],
      );
      await manager.query('DELETE FROM message_reactions WHERE message_id = $1', [id]);
      await refreshInboxPreview(manager, target.roomId, id, '');
      const retractedAt = row!.retracted_at.getTime();
      const recorded = await this.events.record(manager, [
        roomEvent(target, {
          type: 'message.retracted',
          data: { id, from: user.jid, to: target.roomId, retracted_at: retractedAt },
        }),
      ]);

      return { target, recorded, retractedAt };
    });
    if (outcome !== undefined) {
      await this.publish(user, outcome.target, outcome.recorded, {
        event: 'room:message:retracted',
        data: {
          id,
          room: outcome.target.roomId,
          from: user.jid,
          retracted_at: outcome.retractedAt,
        },
      });
    }
  }

  /** Runs a reaction change decided by `change` on a room message the user can see. */
  async react(
    user: UserRef,
    id: string,
    emoji: string,
    added: boolean,
    change: (manager: EntityManager) => Promise<boolean>,
  ): Promise<void> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      const target = await this.visible(manager, user, id);
      if (target.retractedAt !== null) {
        throw new AppError('message-retracted', { detail: `message ${id} was retracted` });
      }
      if (!(await change(manager))) {
        return undefined;
      }
      const recorded = await this.events.record(manager, [
        roomEvent(target, { type: 'message.reacted', data: { id, by: user.jid, emoji, added } }),
      ]);

      return { target, recorded };
    });
    if (outcome !== undefined) {
      await this.publish(user, outcome.target, outcome.recorded, {
        event: 'message:reaction',
        data: {
          id,
          conversation: { type: 'room', id: outcome.target.roomId },
          by: user.jid,
          emoji,
          added,
        },
      });
    }
  }

  /** Whether `id` is a message of a room the user is in. */
  async isRoomMessage(user: UserRef, id: string): Promise<boolean> {
    const target = await findRoomMessage(this.dataSource.manager, user.jid, id);

    return target?.kind === 'message';
  }

  private async publish(
    user: UserRef,
    target: RoomTarget,
    recorded: number,
    delivery: Delivery,
  ): Promise<void> {
    if (recorded > 0) {
      this.events.committed();
    }
    const blockers = await this.blocking.blockersAmong(user.jid, target.members);
    await this.router.deliverToEach(
      target.members.filter((jid) => !blockers.has(jid)),
      delivery,
    );
  }

  private async visible(manager: EntityManager, user: UserRef, id: string): Promise<RoomTarget> {
    const target = await findRoomMessage(manager, user.jid, id, true);
    if (target === undefined || target.kind !== 'message') {
      throw new AppError('message-not-found', { detail: `no message ${id} you can see` });
    }

    return target;
  }

  private async authored(
    manager: EntityManager,
    user: UserRef,
    id: string,
    options: { allowRetracted?: boolean } = {},
  ): Promise<RoomTarget> {
    const target = await this.visible(manager, user, id);
    if (target.sender !== user.jid) {
      throw new AppError('not-author', {
        detail: `message ${id} was sent by ${target.sender ?? 'the server'}`,
      });
    }
    if (target.retractedAt !== null && options.allowRetracted !== true) {
      throw new AppError('message-retracted', { detail: `message ${id} was retracted` });
    }

    return target;
  }
}

function roomEvent(target: RoomTarget, event: Pick<NewEvent, 'type' | 'data'>): NewEvent {
  return {
    ...event,
    domain: target.domain,
    conversation: roomConversation(target.roomId),
  } as NewEvent;
}

/** The members' inbox entries whose last message this is show its new text. */
async function refreshInboxPreview(
  manager: EntityManager,
  roomId: string,
  id: string,
  body: string,
): Promise<void> {
  await manager.query(
    `UPDATE inbox_entries SET last_body = $3
     WHERE owner_id IN (SELECT user_id FROM room_members WHERE room_id = $1)
       AND kind = 'room' AND conversation = $1 AND last_message_id = $2`,
    [roomId, id, body],
  );
}
