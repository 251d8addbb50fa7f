import type { EntityManager } from 'typeorm';

import type { MessageRevision } from '#src/messaging/archived-message.entity.js';

/** A room message as one of the room's members reaches it. */
export interface RoomTarget {
  readonly roomId: string;
  readonly domain: string;
  readonly sender: string | null;
  readonly kind: string;
  readonly body: string | null;
  readonly revisions: MessageRevision[] | null;
  readonly retractedAt: Date | null;
  /** Every member's bare JID, the reader included. */
  readonly members: string[];
}

/**
 * The room message `id` if `reader` is a member of its room; undefined
 * otherwise, so a non-member cannot tell a missing message from one they
 * may not see. With `lock`, the message row is locked for a change.
 */
export async function findRoomMessage(
  manager: EntityManager,
  reader: string,
  id: string,
  lock = false,
): Promise<RoomTarget | undefined> {
  const rows = await manager.query<
    {
      room_id: string;
      domain: string;
      sender: string | null;
      kind: string;
      body: string | null;
      revisions: MessageRevision[] | null;
      retracted_at: Date | null;
      members: string[];
    }[]
  >(
    `SELECT rm.room_id, r.domain, rm.sender, rm.kind, rm.body, rm.revisions, rm.retracted_at,
       ARRAY(SELECT jid FROM room_members WHERE room_id = rm.room_id) AS members
     FROM room_messages rm
     JOIN rooms r ON r.id = rm.room_id
     JOIN room_members m ON m.room_id = rm.room_id AND m.jid = $2
     WHERE rm.id = $1
     ${lock ? 'FOR UPDATE OF rm' : ''}`,
    [id, reader],
  );
  const row = rows[0];

  return row === undefined
    ? undefined
    : {
        roomId: row.room_id,
        domain: row.domain,
        sender: row.sender,
        kind: row.kind,
        body: row.body,
        revisions: row.revisions,
        retractedAt: row.retracted_at,
        members: row.members,
      };
}
