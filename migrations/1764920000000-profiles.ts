import type { MigrationInterface, QueryRunner } from 'typeorm';

/** User profiles, shared by the REST profile routes and XMPP vCards (XEP-0054). */
export class Profiles1764920000000 implements MigrationInterface {
  name = 'Profiles1764920000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "profiles" (
        "user_id" uuid NOT NULL,
        "full_name" text,
        "nickname" text,
        "email" text,
        "url" text,
        "birthday" text,
        "note" text,
        "avatar_type" text,
        "avatar" bytea,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "profiles_pkey" PRIMARY KEY ("user_id"),
        CONSTRAINT "profiles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "profiles"`);
  }
}
