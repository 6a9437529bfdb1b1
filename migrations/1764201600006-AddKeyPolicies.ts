import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-key policies (reference §8.3, §9.2): an access schedule, requests per minute / per day,
 * tokens per minute and a budget, all NULL = none. The counters, reservations and spend live in
 * the key-value store, not here.
 */
export class AddKeyPolicies1764201600006 implements MigrationInterface {
  name = 'AddKeyPolicies1764201600006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE api_keys
        ADD COLUMN access_schedule jsonb,
        ADD COLUMN max_requests_per_minute integer,
        ADD COLUMN max_requests_per_day integer,
        ADD COLUMN max_tokens_per_minute integer,
        ADD COLUMN budget jsonb
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE api_keys
        DROP COLUMN budget,
        DROP COLUMN max_tokens_per_minute,
        DROP COLUMN max_requests_per_day,
        DROP COLUMN max_requests_per_minute,
        DROP COLUMN access_schedule
    `);
  }
}
