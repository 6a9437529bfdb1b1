/**
 * The usage API's SQL, built as pure functions (text + positional parameters) so tests can EXPLAIN
 * exactly what the service runs. Every value is a parameter; only fixed column names are spliced.
 *
 * Index use (migrations 0001, 0005, 0007):
 * - time windows on `usage_records` / `call_logs`: the `created_at` BRIN (rows are appended in
 *   time order; `autosummarize` keeps new ranges summarised) or `call_logs_created_at_idx`;
 * - `apiKeyId` / `connectionId` filters: the `(api_key_id, created_at)` and
 *   `(connection_id, created_at)` btrees; `provider` (+ `model`): `(provider, model, created_at)`;
 * - the logs page: `call_logs_created_at_idx` read backwards (an incremental sort adds the `id`
 *   tie-break), the keyset cursor becoming an index bound on `created_at`.
 */

export interface SqlQuery {
  text: string;
  values: unknown[];
}

/** Positional parameters in the order they are added. */
class Params {
  readonly values: unknown[] = [];

  add(v: unknown, cast = ''): string {
    this.values.push(v);
    return `$${this.values.length}${cast}`;
  }
}

/** Filters shared by the ledger (usage_records) and call_logs aggregates. */
export interface DimensionFilter {
  apiKeyId?: string;
  provider?: string;
  model?: string;
  connectionId?: string;
}

export interface RangeFilter extends DimensionFilter {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
}

function dimensionWhere(f: DimensionFilter, p: Params, out: string[]): void {
  if (f.apiKeyId !== undefined) {
    out.push(`api_key_id = ${p.add(f.apiKeyId, '::uuid')}`);
  }
  if (f.connectionId !== undefined) {
    out.push(`connection_id = ${p.add(f.connectionId, '::uuid')}`);
  }
  if (f.provider !== undefined) {
    out.push(`provider = ${p.add(f.provider)}`);
  }
  if (f.model !== undefined) {
    out.push(`model = ${p.add(f.model)}`);
  }
}

function rangeWhere(f: RangeFilter, p: Params): string {
  const where = [
    `created_at >= ${p.add(f.from.toISOString(), '::timestamptz')}`,
    `created_at < ${p.add(f.to.toISOString(), '::timestamptz')}`,
  ];
  dimensionWhere(f, p, where);
  return where.join(' AND ');
}

/** Grouping bitmask of `GROUPING(provider, model, connection_id, api_key_id)`: 1 = not grouped. */
export const GROUPING = {
  total: 0b1111,
  provider: 0b0111,
  model: 0b0011,
  account: 0b1101,
  apiKey: 0b1110,
} as const;

const SUMS = `
  count(*) AS requests,
  count(*) FILTER (WHERE NOT success) AS errors,
  sum(tokens_input) AS tokens_input,
  sum(tokens_output) AS tokens_output,
  sum(tokens_cache_read) AS tokens_cache_read,
  sum(tokens_cache_creation) AS tokens_cache_creation,
  sum(tokens_reasoning) AS tokens_reasoning,
  sum(images) AS images,
  sum(audio_seconds) AS audio_seconds,
  sum(cost_usd) AS cost,
  max(created_at) AS last_used`;

/**
 * Totals and the four breakdowns in one scan. Stage 1 aggregates the range at the finest grain
 * (provider, model, account, key) — a plain GROUP BY Postgres runs as a parallel hash aggregate;
 * stage 2 rolls those few groups up with GROUPING SETS (which Postgres cannot parallelise, hence
 * not run on the raw rows). One row per set member; `g` tells the sets apart (see GROUPING).
 */
export function historySql(f: RangeFilter): SqlQuery {
  const p = new Params();
  const where = rangeWhere(f, p);
  const text = `
WITH fine AS MATERIALIZED (
  SELECT provider, model, connection_id, api_key_id, max(api_key_name) AS api_key_name,${SUMS}
  FROM usage_records
  WHERE ${where}
  GROUP BY provider, model, connection_id, api_key_id
)
SELECT GROUPING(provider, model, connection_id, api_key_id) AS g,
  provider, model, connection_id, api_key_id,
  max(provider) AS any_provider,
  max(api_key_name) AS api_key_name,
  sum(requests) AS requests,
  sum(errors) AS errors,
  sum(tokens_input) AS tokens_input,
  sum(tokens_output) AS tokens_output,
  sum(tokens_cache_read) AS tokens_cache_read,
  sum(tokens_cache_creation) AS tokens_cache_creation,
  sum(tokens_reasoning) AS tokens_reasoning,
  sum(images) AS images,
  sum(audio_seconds) AS audio_seconds,
  sum(cost) AS cost,
  max(last_used) AS last_used
FROM fine
GROUP BY GROUPING SETS ((), (provider), (provider, model), (connection_id), (api_key_id))`;
  return { text, values: p.values };
}

/** Per-minute buckets (`minute` = whole minutes since the epoch) of `[from, to)`. */
export function minutesSql(f: RangeFilter): SqlQuery {
  const p = new Params();
  const where = rangeWhere(f, p);
  const text = `
SELECT floor(extract(epoch FROM created_at) / 60)::bigint AS minute,
  count(*) AS requests,
  sum(tokens_input) AS tokens_input,
  sum(tokens_output) AS tokens_output,
  sum(cost_usd) AS cost
FROM usage_records
WHERE ${where}
GROUP BY 1`;
  return { text, values: p.values };
}

/** Client requests (call_logs) of the range: total and failed. */
export function callsSql(f: RangeFilter): SqlQuery {
  const p = new Params();
  const where = rangeWhere(f, p);
  const text = `
SELECT count(*) AS total, count(*) FILTER (WHERE NOT success) AS failed
FROM call_logs
WHERE ${where}`;
  return { text, values: p.values };
}

/** One account's attempts of `[from, to)` by model (the `(connection_id, created_at)` index). */
export function connectionSql(connectionId: string, from: Date, to: Date): SqlQuery {
  const p = new Params();
  const where = rangeWhere({ connectionId, from, to }, p);
  const text = `
SELECT model, max(provider) AS provider,${SUMS}
FROM usage_records
WHERE ${where}
GROUP BY model`;
  return { text, values: p.values };
}

/** The account's newest attempt ever (one index probe, read backwards). */
export function connectionLastSql(connectionId: string): SqlQuery {
  return {
    text: `
SELECT created_at, provider
FROM usage_records
WHERE connection_id = $1::uuid
ORDER BY created_at DESC
LIMIT 1`,
    values: [connectionId],
  };
}

export interface LogsFilter {
  apiKeyId?: string;
  provider?: string;
  /** Matches the served model or the requested one (a combo name, an alias). */
  model?: string;
  status?: number;
  success?: boolean;
  comboName?: string;
  requestId?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Keyset: rows strictly older than this (created_at, id). */
  after?: { createdAt: string; id: string };
}

/** call_logs columns, as they come back (snake_case). */
export const CALL_LOG_COLUMNS = [
  'id',
  'request_id',
  'created_at',
  'method',
  'path',
  'surface',
  'status',
  'success',
  'stream',
  'requested_model',
  'provider',
  'model',
  'connection_id',
  'account',
  'api_key_id',
  'api_key_name',
  'combo_name',
  'combo_step_id',
  'attempts',
  'cache_source',
  'idempotent_replay',
  'session_id',
  'tokens_input',
  'tokens_output',
  'tokens_cache_read',
  'tokens_cache_creation',
  'tokens_reasoning',
  'images',
  'audio_seconds',
  'cost_usd',
  'duration_ms',
  'ttft_ms',
  'error_code',
  'error_summary',
  'request_summary',
] as const;

/**
 * Newest call_logs first, `limit` rows, keyset-paged on (created_at, id). `cursor_ts` is
 * created_at with its full microsecond precision (a JS Date would round it to milliseconds and
 * skip or repeat rows at a page boundary).
 */
export function logsSql(f: LogsFilter, limit: number): SqlQuery {
  const p = new Params();
  const where: string[] = [];
  dimensionWhere({ apiKeyId: f.apiKeyId, provider: f.provider }, p, where);
  if (f.model !== undefined) {
    const m = p.add(f.model);
    where.push(`(model = ${m} OR requested_model = ${m})`);
  }
  if (f.status !== undefined) {
    where.push(`status = ${p.add(f.status, '::int')}`);
  }
  if (f.success !== undefined) {
    where.push(`success = ${p.add(f.success, '::boolean')}`);
  }
  if (f.comboName !== undefined) {
    where.push(`combo_name = ${p.add(f.comboName)}`);
  }
  if (f.requestId !== undefined) {
    where.push(`request_id = ${p.add(f.requestId)}`);
  }
  if (f.from !== undefined) {
    where.push(`created_at >= ${p.add(f.from.toISOString(), '::timestamptz')}`);
  }
  if (f.to !== undefined) {
    where.push(`created_at < ${p.add(f.to.toISOString(), '::timestamptz')}`);
  }
  if (f.after !== undefined) {
    const ts = p.add(f.after.createdAt, '::timestamptz');
    const id = p.add(f.after.id, '::uuid');
    where.push(`(created_at, id) < (${ts}, ${id})`);
  }
  const text = `
SELECT ${CALL_LOG_COLUMNS.join(', ')},
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts
FROM call_logs${where.length ? `\nWHERE ${where.join(' AND ')}` : ''}
ORDER BY created_at DESC, id DESC
LIMIT ${p.add(limit, '::int')}`;
  return { text, values: p.values };
}
