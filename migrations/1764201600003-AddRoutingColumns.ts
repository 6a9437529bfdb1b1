import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Routing and resilience columns: per-connection request/token limits (`rate_limit_protection`
 * NULL = follow the global auto-enable setting) and, on the usage ledger, the combo an attempt
 * belonged to and its number within the request.
 */
export class AddRoutingColumns1764201600003 implements MigrationInterface {
  name = 'AddRoutingColumns1764201600003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE provider_connections
        ADD COLUMN rate_limit_protection boolean,
        ADD COLUMN rpm_limit integer,
        ADD COLUMN tpm_limit integer`);
    await q.query(`
      ALTER TABLE usage_records
        ADD COLUMN combo varchar(100),
        ADD COLUMN attempt smallint NOT NULL DEFAULT 1`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE usage_records DROP COLUMN attempt, DROP COLUMN combo`);
    await q.query(`
      ALTER TABLE provider_connections
        DROP COLUMN tpm_limit, DROP COLUMN rpm_limit, DROP COLUMN rate_limit_protection`);
  }
}
