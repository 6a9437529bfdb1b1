import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Combos: named routes over several models or other combos (steps and config as JSON). */
export class CreateCombos1764201600002 implements MigrationInterface {
  name = 'CreateCombos1764201600002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE combos (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name              varchar(100) NOT NULL,
        strategy          varchar(40) NOT NULL DEFAULT 'priority',
        steps             jsonb NOT NULL DEFAULT '[]',
        config            jsonb NOT NULL DEFAULT '{}',
        allowed_providers jsonb NOT NULL DEFAULT '[]',
        system_message    text,
        tool_filter_regex varchar(1000),
        context_length    integer,
        is_active         boolean NOT NULL DEFAULT true,
        is_hidden         boolean NOT NULL DEFAULT false,
        sort_order        integer NOT NULL DEFAULT 0,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT combos_name_uq UNIQUE (name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE combos`);
  }
}
