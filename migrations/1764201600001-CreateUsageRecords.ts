import type { MigrationInterface, QueryRunner } from 'typeorm';

/** One row per upstream attempt, written in batches off the request path. */
export class CreateUsageRecords1764201600001 implements MigrationInterface {
  name = 'CreateUsageRecords1764201600001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_records (
        id                    uuid PRIMARY KEY,
        request_id            varchar(128) NOT NULL,
        created_at            timestamptz NOT NULL,
        api_key_id            uuid,
        api_key_name          varchar(200),
        surface               varchar(40) NOT NULL,
        provider              varchar(120),
        model                 varchar(300),
        connection_id         uuid,
        status                integer NOT NULL,
        success               boolean NOT NULL,
        stream                boolean NOT NULL DEFAULT false,
        tokens_input          integer NOT NULL DEFAULT 0,
        tokens_output         integer NOT NULL DEFAULT 0,
        tokens_cache_read     integer NOT NULL DEFAULT 0,
        tokens_cache_creation integer NOT NULL DEFAULT 0,
        tokens_reasoning      integer NOT NULL DEFAULT 0,
        latency_ms            integer NOT NULL DEFAULT 0,
        ttft_ms               integer,
        error_code            varchar(80)
      )`);
    // The ledger is written at request rate: few, append-friendly indexes (ids are time-ordered
    // UUIDv7, created_at grows monotonically, so BRIN is tiny and cheap to maintain).
    await q.query(
      `CREATE INDEX usage_records_created_at_brin ON usage_records USING brin (created_at)`,
    );
    await q.query(`CREATE INDEX usage_records_key_idx ON usage_records (api_key_id, created_at)`);
    await q.query(
      `CREATE INDEX usage_records_conn_idx ON usage_records (connection_id, created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_records`);
  }
}
