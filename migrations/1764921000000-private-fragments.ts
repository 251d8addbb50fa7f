import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Private XML storage (XEP-0049): namespaced fragments a client keeps for itself. */
export class PrivateFragments1764921000000 implements MigrationInterface {
  name = 'PrivateFragments1764921000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "private_fragments" (
        "owner_id" uuid NOT NULL,
        "namespace" text NOT NULL,
        "name" text NOT NULL,
        "xml" text NOT NULL,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "private_fragments_pkey" PRIMARY KEY ("owner_id", "namespace"),
        CONSTRAINT "private_fragments_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "private_fragments"`);
  }
}
