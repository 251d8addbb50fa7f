import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a user's offline messages start (XMPP offline storage, XEP-0160):
 * received messages newer than `offline_since` went to no available
 * session. The last session closing moves it back to then (it never moves
 * forward while set); the next available XMPP session takes what is after
 * it and clears it. NULL: everything was delivered or taken. Minus infinity
 * (every account until its first session ends): every unread message counts.
 */
export class OfflineSince1764940000000 implements MigrationInterface {
  name = 'OfflineSince1764940000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "users" ADD "offline_since" TIMESTAMP WITH TIME ZONE DEFAULT '-infinity'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "offline_since"`);
  }
}
