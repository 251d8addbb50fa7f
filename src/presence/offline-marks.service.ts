import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * How long before the last session closed a message may have been sent and
 * still be on its way (waiting for its archive commit): such messages count
 * as offline too, so none is lost in the race; a client may see one of them
 * twice, with the same stanza-id.
 */
export const OFFLINE_MARGIN_MS = 2000;

/**
 * Moves user $1's mark back to $2 (epoch ms), unless it is there already;
 * a statement of its own, or a CTE of one that commits with it.
 */
export const MARK_UNDELIVERED = `UPDATE users
  SET offline_since = LEAST(offline_since, to_timestamp($2::float8 / 1000))
  WHERE id = $1 AND (offline_since IS NULL OR offline_since > to_timestamp($2::float8 / 1000))`;

/**
 * Where each user's offline messages start (`users.offline_since`). The
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
    await this.dataSource.query(MARK_UNDELIVERED, [userId, since]);
  }

  /**
   * Takes the user's mark, as epoch ms (minus infinity: every unread message
   * counts), or undefined when nothing waits. Of sessions asking at once,
   * one gets it. Read-only when nothing waits. The commit does not wait for
   * its WAL flush: a take lost in a crash only offers the same messages
   * again, with the same stanza-ids.
   */
  async take(userId: string): Promise<number | undefined> {
    // An UPDATE answers [rows, count] through TypeORM.
    const [rows] = await this.dataSource.query<[{ since: number }[], number]>(
      `UPDATE users SET offline_since = NULL
       FROM (SELECT id, offline_since FROM users
             WHERE id = $1 AND offline_since IS NOT NULL FOR UPDATE) AS prior,
            (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
       WHERE users.id = prior.id
       RETURNING (extract(epoch FROM prior.offline_since) * 1000)::float8 AS since`,
      [userId],
    );

    return rows[0]?.since;
  }
}
