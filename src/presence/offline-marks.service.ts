import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { queryPrepared } from '#src/database/prepared-query.js';

/**
 * How long before the last session closed a message may have been sent and
 * still be on its way (waiting for its archive commit): such messages count
 * as offline too, so none is lost in the race; a client may see one of them
 * twice, with the same stanza-id.
 */
export const OFFLINE_MARGIN_MS = 2000;

/**
 * Where a user's offline messages start when their last receiving session
 * stops receiving now: the margin back, but not before the session began
 * receiving (what was sent before that, the session got, live or in the
 * offline messages it took).
 */
export function offlineSinceNow(receivingSince: number | undefined): number {
  return Math.max(Date.now() - OFFLINE_MARGIN_MS, receivingSince ?? -Infinity);
}

/**
 * Moves user $1's mark back to $2 (epoch ms), unless it is there already; a
 * user with no row keeps counting every unread message. A statement of its
 * own, or a CTE of one that commits with it.
 */
export const MARK_UNDELIVERED = `UPDATE offline_marks
  SET since = LEAST(since, to_timestamp($2::float8 / 1000))
  WHERE user_id = $1 AND (since IS NULL OR since > to_timestamp($2::float8 / 1000))`;

/**
 * Takes user $1's mark: the row's `since` (cleared), or minus infinity for a
 * user with no row yet (one is made, cleared). The commit does not wait for
 * its WAL flush: a take lost in a crash only offers the same messages again,
 * with the same stanza-ids.
 */
const TAKE = `
  WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
  taken AS (
    UPDATE offline_marks m SET since = NULL
    FROM (SELECT user_id, since FROM offline_marks
          WHERE user_id = $1 AND since IS NOT NULL FOR UPDATE) AS waiting, relaxed
    WHERE m.user_id = waiting.user_id
    RETURNING waiting.since
  ),
  created AS (
    INSERT INTO offline_marks (user_id, since)
    SELECT $1, NULL FROM relaxed
    WHERE NOT EXISTS (SELECT 1 FROM offline_marks WHERE user_id = $1)
    ON CONFLICT (user_id) DO NOTHING
    RETURNING '-infinity'::timestamptz AS since
  )
  SELECT (extract(epoch FROM since) * 1000)::float8 AS since FROM taken
  UNION ALL
  SELECT (extract(epoch FROM since) * 1000)::float8 FROM created`;

/**
 * Where each user's offline messages start (table `offline_marks`). The
 * messages themselves are the archive's; this is only the point after which
 * the user's received messages reached no available session. A mark only
 * ever moves back while it is set, so marks from several nodes and sessions
 * combine to the earliest; taking it clears it, once, for one session.
 */
@Injectable()
export class OfflineMarks {
  constructor(private readonly dataSource: DataSource) {}

  /** Messages from `since` on (epoch ms) reached none of the user's available sessions. */
  async undeliveredSince(userId: string, since: number): Promise<void> {
    await queryPrepared(this.dataSource.manager, 'offline-mark', MARK_UNDELIVERED, [userId, since]);
  }

  /**
   * The user's last session receiving messages to the bare JID stops now
   * (it began at `receivingSince`): see offlineSinceNow.
   */
  async stoppedReceiving(userId: string, receivingSince: number | undefined): Promise<void> {
    await this.undeliveredSince(userId, offlineSinceNow(receivingSince));
  }

  /**
   * Takes the user's mark, as epoch ms (minus infinity: every unread message
   * counts), or undefined when nothing waits. Of sessions asking at once,
   * one gets it. Read-only when nothing waits.
   */
  async take(userId: string): Promise<number | undefined> {
    const rows = await queryPrepared<{ since: number }>(
      this.dataSource.manager,
      'offline-take',
      TAKE,
      [userId],
    );

    return rows[0]?.since;
  }
}
