import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The event outbox, per-conversation sequences, webhook endpoints, deliveries and attempts. */
export class Webhooks1764870000000 implements MigrationInterface {
  name = 'Webhooks1764870000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "event_outbox" (
        "id" uuid NOT NULL,
        "type" text NOT NULL,
        "version" integer NOT NULL,
        "domain" text NOT NULL,
        "conversation" text,
        "sequence" bigint,
        "data" jsonb NOT NULL,
        "request_id" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "event_outbox_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(
      `CREATE INDEX "event_outbox_created_idx" ON "event_outbox" ("created_at")`,
    );
    await queryRunner.query(`
      CREATE TABLE "conversation_sequences" (
        "conversation" text NOT NULL,
        "last_sequence" bigint NOT NULL,
        CONSTRAINT "conversation_sequences_pkey" PRIMARY KEY ("conversation")
      )`);
    await queryRunner.query(`
      CREATE TABLE "webhook_endpoints" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "url" text NOT NULL,
        "description" text,
        "events" text array NOT NULL,
        "domains" text array NOT NULL DEFAULT '{}',
        "headers" jsonb NOT NULL DEFAULT '{}',
        "secret" text NOT NULL,
        "previous_secret" text,
        "previous_secret_expires_at" TIMESTAMP WITH TIME ZONE,
        "enabled" boolean NOT NULL DEFAULT true,
        "disabled_reason" text,
        "ordered" boolean NOT NULL DEFAULT true,
        "max_concurrency" integer NOT NULL DEFAULT '4',
        "kind" text NOT NULL DEFAULT 'custom',
        "failing_since" TIMESTAMP WITH TIME ZONE,
        "last_success_at" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(`
      CREATE TABLE "webhook_deliveries" (
        "id" uuid NOT NULL,
        "endpoint_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "event_type" text NOT NULL,
        "conversation" text,
        "sequence" bigint,
        "body" text NOT NULL,
        "status" text NOT NULL DEFAULT 'pending',
        "attempts" integer NOT NULL DEFAULT '0',
        "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "last_status" integer,
        "last_error" text,
        "request_id" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "webhook_deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_lane_idx" ON "webhook_deliveries" ("endpoint_id", "conversation", "sequence") WHERE status = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" ("next_attempt_at") WHERE status = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_endpoint_created_idx" ON "webhook_deliveries" ("endpoint_id", "created_at")`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "webhook_deliveries_endpoint_event_key" ON "webhook_deliveries" ("endpoint_id", "event_id")`,
    );
    await queryRunner.query(`
      CREATE TABLE "webhook_attempts" (
        "id" uuid NOT NULL,
        "delivery_id" uuid NOT NULL,
        "endpoint_id" uuid NOT NULL,
        "attempt" integer NOT NULL,
        "started_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "duration_ms" integer NOT NULL,
        "status_code" integer,
        "error" text,
        "response_body" text,
        CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "webhook_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await queryRunner.query(
      `CREATE INDEX "webhook_attempts_delivery_idx" ON "webhook_attempts" ("delivery_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "webhook_attempts_endpoint_started_idx" ON "webhook_attempts" ("endpoint_id", "started_at")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "webhook_attempts"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
    await queryRunner.query(`DROP TABLE "conversation_sequences"`);
    await queryRunner.query(`DROP TABLE "event_outbox"`);
  }
}
