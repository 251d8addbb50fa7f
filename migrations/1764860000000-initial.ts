import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Domains, users with their SCRAM keys, tokens, and the one-to-one archive. */
export class Initial1764860000000 implements MigrationInterface {
  name = 'Initial1764860000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "domains" (
        "name" text NOT NULL,
        "enabled" boolean NOT NULL DEFAULT true,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "domains_pkey" PRIMARY KEY ("name")
      )`);
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "username" text NOT NULL,
        "domain" text NOT NULL,
        "password_hash" text NOT NULL,
        "scram_sha1" text NOT NULL,
        "scram_sha256" text NOT NULL,
        "credential_version" integer NOT NULL DEFAULT '1',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "users_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "users_domain_fkey" FOREIGN KEY ("domain") REFERENCES "domains"("name") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "users_domain_username_key" ON "users" ("domain", "username")`,
    );
    await queryRunner.query(`
      CREATE TABLE "tokens" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL,
        "access_hash" bytea NOT NULL,
        "refresh_hash" bytea NOT NULL,
        "access_expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "refresh_expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "revoked_at" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "tokens_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(`CREATE INDEX "tokens_user_id_idx" ON "tokens" ("user_id")`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "tokens_access_hash_key" ON "tokens" ("access_hash")`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "tokens_refresh_hash_key" ON "tokens" ("refresh_hash")`,
    );
    await queryRunner.query(`
      CREATE TABLE "archived_messages" (
        "owner_id" uuid NOT NULL,
        "id" uuid NOT NULL,
        "peer" text NOT NULL,
        "outgoing" boolean NOT NULL,
        "body" text NOT NULL,
        "client_id" text,
        CONSTRAINT "archived_messages_pkey" PRIMARY KEY ("owner_id", "id"),
        CONSTRAINT "archived_messages_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "archived_messages_client_id_key" ON "archived_messages" ("owner_id", "client_id") WHERE client_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "archived_messages_conversation_idx" ON "archived_messages" ("owner_id", "peer", "id")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "archived_messages"`);
    await queryRunner.query(`DROP TABLE "tokens"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP TABLE "domains"`);
  }
}
