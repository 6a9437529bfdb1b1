import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger is written at request rate on the same machine as the gateway: every index costs CPU
 * on every row. These two serve no query of the usage API (its plans use the created_at, key and
 * connection indexes, see src/usage/usage-query.sql.ts): request-id lookups go through a time range
 * first, and provider/model breakdowns are parallel GROUP BYs over the time range.
 */
export class LeanLedgerIndexes1764201600008 implements MigrationInterface {
  name = 'LeanLedgerIndexes1764201600008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS call_logs_request_idx`);
    await q.query(`DROP INDEX IF EXISTS usage_records_provider_model_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX usage_records_provider_model_idx ON usage_records (provider, model, created_at)`,
    );
    await q.query(`CREATE INDEX call_logs_request_idx ON call_logs (request_id)`);
  }
}
