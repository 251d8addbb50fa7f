import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Rooms, their members, and the room archive (each message stored once). */
export class Rooms1764910000000 implements MigrationInterface {
  name = 'Rooms1764910000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "rooms" (
        "id" text NOT NULL,
        "domain" text NOT NULL,
        "name" text NOT NULL,
        "subject" text NOT NULL DEFAULT '',
        "configure_by" text NOT NULL DEFAULT 'owners',
        "invite_by" text NOT NULL DEFAULT 'owners',
        "remove_by" text NOT NULL DEFAULT 'owners',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "rooms_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "rooms_domain_fkey" FOREIGN KEY ("domain") REFERENCES "domains"("name") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(`CREATE INDEX "rooms_domain_idx" ON "rooms" ("domain", "id")`);
    await queryRunner.query(`
      CREATE TABLE "room_members" (
        "room_id" text NOT NULL,
        "jid" text NOT NULL,
        "user_id" uuid NOT NULL,
        "role" text NOT NULL,
        "joined_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "room_members_pkey" PRIMARY KEY ("room_id", "jid"),
        CONSTRAINT "room_members_room_id_fkey" FOREIGN KEY ("room_id") REFERENCES "rooms"("id") ON DELETE CASCADE ON UPDATE NO ACTION,
        CONSTRAINT "room_members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "room_members_user_id_idx" ON "room_members" ("user_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "room_messages" (
        "room_id" text NOT NULL,
        "id" uuid NOT NULL,
        "sender" text,
        "kind" text NOT NULL,
        "body" text,
        "client_id" text,
        "member" text,
        "data" jsonb,
        "reply_to" uuid,
        "thread" text,
        "revisions" jsonb,
        "edited_at" TIMESTAMP WITH TIME ZONE,
        "retracted_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "room_messages_pkey" PRIMARY KEY ("room_id", "id"),
        CONSTRAINT "room_messages_room_id_fkey" FOREIGN KEY ("room_id") REFERENCES "rooms"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "room_messages_client_id_key" ON "room_messages" ("room_id", "sender", "client_id") WHERE client_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "room_messages_thread_idx" ON "room_messages" ("room_id", "thread", "id") WHERE thread IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "room_messages"`);
    await queryRunner.query(`DROP TABLE "room_members"`);
    await queryRunner.query(`DROP TABLE "rooms"`);
  }
}
