import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every message rewrites both sides' inbox entries (last message, unread
 * count). With an index on either column no such update could be HOT: each
 * wrote a new tuple and an entry in all three indexes, and the indexes on
 * an ever-growing last_message_id only grew. Without them, and with room
 * left on each page for the next version, the update stays on its page and
 * touches no index.
 *
 * The inbox reads do without them: a user's entries are one range of the
 * primary key, sorted after the scan (top-N for a page). That costs about
 * 0.2 ms for a hundred conversations and 5 to 10 ms for ten thousand, against
 * about 10 us of PostgreSQL CPU saved on every message.
 *
 * The fill factor applies to pages written from now on; pages filled
 * before it fill up as their rows move.
 */
export class InboxHotUpdates1764930000000 implements MigrationInterface {
  name = 'InboxHotUpdates1764930000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "inbox_entries_activity_idx"`);
    await queryRunner.query(`DROP INDEX "inbox_entries_unread_idx"`);
    await queryRunner.query(`ALTER TABLE "inbox_entries" SET (fillfactor = 50)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "inbox_entries" RESET (fillfactor)`);
    await queryRunner.query(
      `CREATE INDEX "inbox_entries_unread_idx" ON "inbox_entries" ("owner_id", "unread") WHERE unread > 0`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_entries_activity_idx" ON "inbox_entries" ("owner_id", "last_message_id")`,
    );
  }
}
