import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Rosters with their subscription states, blocklists, and last activity. */
export class Contacts1764880000000 implements MigrationInterface {
  name = 'Contacts1764880000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "contacts" (
        "owner_id" uuid NOT NULL,
        "jid" text NOT NULL,
        "name" text,
        "groups" text array NOT NULL DEFAULT '{}',
        "subscription" text NOT NULL DEFAULT 'none',
        "pending_out" boolean NOT NULL DEFAULT false,
        "pending_in" boolean NOT NULL DEFAULT false,
        "in_roster" boolean NOT NULL DEFAULT true,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "contacts_pkey" PRIMARY KEY ("owner_id", "jid"),
        CONSTRAINT "contacts_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(`
      CREATE TABLE "blocks" (
        "owner_id" uuid NOT NULL,
        "jid" text NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "blocks_pkey" PRIMARY KEY ("owner_id", "jid"),
        CONSTRAINT "blocks_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(`CREATE INDEX "blocks_jid_idx" ON "blocks" ("jid")`);
    await queryRunner.query(`
      CREATE TABLE "last_activity" (
        "user_id" uuid NOT NULL,
        "seen_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "status" text,
        CONSTRAINT "last_activity_pkey" PRIMARY KEY ("user_id"),
        CONSTRAINT "last_activity_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "last_activity"`);
    await queryRunner.query(`DROP TABLE "blocks"`);
    await queryRunner.query(`DROP TABLE "contacts"`);
  }
}
