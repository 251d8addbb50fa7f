import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where each user's offline messages start (XMPP offline storage, XEP-0160):
 * received messages newer than `since` reached no available session. No row
 * (an account whose offline messages were never taken): every unread
 * message counts. NULL: taken, nothing waits. A table of its own, apart
 * from the accounts that every login reads, since sessions write it as they
 * come and go; each write stays on its page (no indexed column changes).
 */
export class OfflineMarks1764940000000 implements MigrationInterface {
  name = 'OfflineMarks1764940000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "offline_marks" (
        "user_id" uuid NOT NULL,
        "since" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "offline_marks_pkey" PRIMARY KEY ("user_id"),
        CONSTRAINT "offline_marks_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      ) WITH (fillfactor = 50)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "offline_marks"`);
  }
}
