import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-key limit of concurrently active sessions (reference §7.5): NULL = unlimited. Sessions
 * themselves live in the key-value store, not here.
 */
export class AddKeyMaxSessions1764201600004 implements MigrationInterface {
  name = 'AddKeyMaxSessions1764201600004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN max_sessions integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN max_sessions`);
  }
}
