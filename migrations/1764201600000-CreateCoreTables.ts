import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Settings, API keys, provider nodes and connections: the gateway's first tables. */
export class CreateCoreTables1764201600000 implements MigrationInterface {
  name = 'CreateCoreTables1764201600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE settings (
        key         text PRIMARY KEY,
        value       jsonb NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE api_keys (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name                varchar(200) NOT NULL,
        key_hash            char(64) NOT NULL,
        key_prefix          varchar(16) NOT NULL,
        key_last4           varchar(4) NOT NULL,
        scopes              text[] NOT NULL DEFAULT '{inference}',
        no_log              boolean NOT NULL DEFAULT false,
        is_active           boolean NOT NULL DEFAULT true,
        allowed_models      jsonb NOT NULL DEFAULT '[]',
        allowed_connections jsonb NOT NULL DEFAULT '[]',
        expires_at          timestamptz,
        revoked_at          timestamptz,
        last_used_at        timestamptz,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX api_keys_key_hash_uq ON api_keys (key_hash)`);
    await q.query(`
      CREATE TABLE provider_nodes (
        id          varchar(120) PRIMARY KEY,
        type        varchar(40) NOT NULL,
        name        varchar(200) NOT NULL,
        prefix      varchar(100) NOT NULL,
        api_type    varchar(40) NOT NULL DEFAULT 'chat',
        base_url    text NOT NULL,
        chat_path   varchar(300),
        models_path varchar(300),
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX provider_nodes_prefix_uq ON provider_nodes (lower(prefix))`);
    await q.query(`
      CREATE TABLE provider_connections (
        id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        provider               varchar(120) NOT NULL,
        auth_type              varchar(20) NOT NULL DEFAULT 'apikey',
        name                   varchar(200) NOT NULL,
        priority               integer NOT NULL DEFAULT 1,
        global_priority        integer,
        is_active              boolean NOT NULL DEFAULT true,
        default_model          varchar(300),
        secret_enc             text,
        provider_specific_data jsonb NOT NULL DEFAULT '{}',
        test_status            varchar(30) NOT NULL DEFAULT 'unknown',
        last_error             text,
        last_error_at          timestamptz,
        error_code             varchar(60),
        last_tested            timestamptz,
        created_at             timestamptz NOT NULL DEFAULT now(),
        updated_at             timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE UNIQUE INDEX provider_connections_provider_name_uq ON provider_connections (provider, name)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE provider_connections`);
    await q.query(`DROP TABLE provider_nodes`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE settings`);
  }
}
