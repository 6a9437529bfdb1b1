import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The usage API's reads (`/api/usage/*`) are served by the existing indexes (see
 * src/usage/usage-query.sql.ts); what they lacked is a BRIN that keeps up. Page ranges appended
 * after a BRIN index was built stay unsummarised — and are read in full by every time-window
 * query — until a VACUUM reaches the table, which on an append-only ledger can be millions of rows
 * later. `autosummarize` has autovacuum summarise each range as soon as the next one starts.
 */
export class UsageQueryIndexes1764201600007 implements MigrationInterface {
  name = 'UsageQueryIndexes1764201600007';

  async up(q: QueryRunner): Promise<void> {
    for (const index of ['usage_records_created_at_brin', 'call_logs_created_at_brin']) {
      await q.query(`ALTER INDEX ${index} SET (autosummarize = on)`);
      await q.query(`SELECT brin_summarize_new_values($1::regclass)`, [index]);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER INDEX call_logs_created_at_brin RESET (autosummarize)`);
    await q.query(`ALTER INDEX usage_records_created_at_brin RESET (autosummarize)`);
  }
}
