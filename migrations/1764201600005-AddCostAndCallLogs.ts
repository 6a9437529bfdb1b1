import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cost on every attempt of the usage ledger, and one `call_logs` row per client request (reference
 * §4.7): what was asked, what served it, the tokens and cost of the served attempt, the outcome.
 * No request or response bodies are stored; `request_summary` (a short text excerpt) stays empty
 * for `noLog` keys.
 */
export class AddCostAndCallLogs1764201600005 implements MigrationInterface {
  name = 'AddCostAndCallLogs1764201600005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE usage_records ADD COLUMN cost_usd double precision NOT NULL DEFAULT 0`,
    );
    await q.query(`
      CREATE TABLE call_logs (
        id                    uuid PRIMARY KEY,
        request_id            varchar(128) NOT NULL,
        created_at            timestamptz NOT NULL,
        method                varchar(10) NOT NULL DEFAULT 'POST',
        path                  varchar(300) NOT NULL,
        surface               varchar(40) NOT NULL,
        status                integer NOT NULL,
        success               boolean NOT NULL,
        stream                boolean NOT NULL DEFAULT false,
        requested_model       varchar(300),
        provider              varchar(120),
        model                 varchar(300),
        connection_id         uuid,
        account               varchar(200),
        api_key_id            uuid,
        api_key_name          varchar(200),
        combo_name            varchar(100),
        combo_step_id         varchar(200),
        attempts              smallint NOT NULL DEFAULT 0,
        cache_source          varchar(20),
        idempotent_replay     boolean NOT NULL DEFAULT false,
        session_id            varchar(80),
        tokens_input          integer NOT NULL DEFAULT 0,
        tokens_output         integer NOT NULL DEFAULT 0,
        tokens_cache_read     integer NOT NULL DEFAULT 0,
        tokens_cache_creation integer NOT NULL DEFAULT 0,
        tokens_reasoning      integer NOT NULL DEFAULT 0,
        cost_usd              double precision NOT NULL DEFAULT 0,
        duration_ms           integer NOT NULL DEFAULT 0,
        ttft_ms               integer,
        error_code            varchar(80),
        error_summary         varchar(500),
        request_summary       varchar(300)
      )`);
    await q.query(`CREATE INDEX call_logs_created_at_brin ON call_logs USING brin (created_at)`);
    await q.query(`CREATE INDEX call_logs_created_at_idx ON call_logs (created_at DESC)`);
    await q.query(`CREATE INDEX call_logs_key_idx ON call_logs (api_key_id, created_at)`);
    await q.query(`CREATE INDEX call_logs_conn_idx ON call_logs (connection_id, created_at)`);
    await q.query(`CREATE INDEX call_logs_request_idx ON call_logs (request_id)`);
    await q.query(
      `CREATE INDEX usage_records_provider_model_idx ON usage_records (provider, model, created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS usage_records_provider_model_idx`);
    await q.query(`DROP TABLE call_logs`);
    await q.query(`ALTER TABLE usage_records DROP COLUMN cost_usd`);
  }
}
