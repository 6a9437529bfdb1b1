import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Media requests are billed in their own units: images generated and seconds of audio transcribed
 * (tokens stay in the token columns). A constant default makes the ADD COLUMN instant on a large
 * ledger (no table rewrite).
 */
export class AddMediaUnits1764201600009 implements MigrationInterface {
  name = 'AddMediaUnits1764201600009';

  async up(q: QueryRunner): Promise<void> {
    for (const table of ['usage_records', 'call_logs']) {
      await q.query(
        `ALTER TABLE ${table} ADD COLUMN images integer NOT NULL DEFAULT 0, ` +
          `ADD COLUMN audio_seconds real NOT NULL DEFAULT 0`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['usage_records', 'call_logs']) {
      await q.query(`ALTER TABLE ${table} DROP COLUMN audio_seconds, DROP COLUMN images`);
    }
  }
}
