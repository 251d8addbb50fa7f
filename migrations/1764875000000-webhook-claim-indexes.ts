import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deliveries are claimed per endpoint, oldest due first, and the sweep asks
 * per endpoint whether anything is overdue: one index on both columns
 * replaces the one on the due time alone. An ordered endpoint's deliveries
 * without a conversation are claimed from an index of their own, so the
 * claim does not wade through lanes waiting behind their heads.
 */
export class WebhookClaimIndexes1764875000000 implements MigrationInterface {
  name = 'WebhookClaimIndexes1764875000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "webhook_deliveries_due_idx"`);
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_endpoint_due_idx" ON "webhook_deliveries" ("endpoint_id", "next_attempt_at") WHERE status = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_loose_due_idx" ON "webhook_deliveries" ("endpoint_id", "next_attempt_at") WHERE status = 'pending' AND conversation IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "webhook_deliveries_loose_due_idx"`);
    await queryRunner.query(`DROP INDEX "webhook_deliveries_endpoint_due_idx"`);
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" ("next_attempt_at") WHERE status = 'pending'`,
    );
  }
}
