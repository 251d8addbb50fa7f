import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Message operations (replies, threads, edits, retractions, reactions),
 * chat markers, and the inbox of conversations.
 */
export class Inbox1764900000000 implements MigrationInterface {
  name = 'Inbox1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "archived_messages"
        ADD "reply_to" uuid,
        ADD "thread" text,
        ADD "revisions" jsonb,
        ADD "edited_at" TIMESTAMP WITH TIME ZONE,
        ADD "retracted_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `CREATE INDEX "archived_messages_thread_idx" ON "archived_messages" ("owner_id", "thread", "id") WHERE thread IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "message_reactions" (
        "message_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "emoji" text NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "message_reactions_pkey" PRIMARY KEY ("message_id", "user_id", "emoji"),
        CONSTRAINT "message_reactions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "message_reactions_user_id_idx" ON "message_reactions" ("user_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "chat_markers" (
        "owner_id" uuid NOT NULL,
        "kind" text NOT NULL,
        "conversation" text NOT NULL,
        "type" text NOT NULL,
        "message_id" uuid NOT NULL,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "chat_markers_pkey" PRIMARY KEY ("owner_id", "kind", "conversation", "type"),
        CONSTRAINT "chat_markers_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "chat_markers_conversation_idx" ON "chat_markers" ("kind", "conversation")`,
    );
    await queryRunner.query(`
      CREATE TABLE "inbox_entries" (
        "owner_id" uuid NOT NULL,
        "kind" text NOT NULL,
        "conversation" text NOT NULL,
        "last_message_id" uuid NOT NULL,
        "last_from" text NOT NULL,
        "last_body" text NOT NULL,
        "unread" integer NOT NULL DEFAULT '0',
        "muted_until" TIMESTAMP WITH TIME ZONE,
        "archived" boolean NOT NULL DEFAULT false,
        "pinned" boolean NOT NULL DEFAULT false,
        CONSTRAINT "inbox_entries_pkey" PRIMARY KEY ("owner_id", "kind", "conversation"),
        CONSTRAINT "inbox_entries_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "inbox_entries_activity_idx" ON "inbox_entries" ("owner_id", "last_message_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "inbox_entries_unread_idx" ON "inbox_entries" ("owner_id", "unread") WHERE unread > 0`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "inbox_entries"`);
    await queryRunner.query(`DROP TABLE "chat_markers"`);
    await queryRunner.query(`DROP TABLE "message_reactions"`);
    await queryRunner.query(`DROP INDEX "archived_messages_thread_idx"`);
    await queryRunner.query(`
      ALTER TABLE "archived_messages"
        DROP COLUMN "retracted_at",
        DROP COLUMN "edited_at",
        DROP COLUMN "revisions",
        DROP COLUMN "thread",
        DROP COLUMN "reply_to"`);
  }
}
