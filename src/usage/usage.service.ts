import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MetricsService } from '@/common/metrics/metrics.service';
import { Env } from '@/config/env.schema';

export interface UsageEvent {
  requestId: string;
  apiKeyId: string | null;
  apiKeyName: string | null;
  surface: string;
  provider: string | null;
  model: string | null;
  connectionId: string | null;
  status: number;
  success: boolean;
  stream: boolean;
  tokensInput: number;
  tokensOutput: number;
  tokensCacheRead: number;
  tokensCacheCreation: number;
  tokensReasoning: number;
  latencyMs: number;
  ttftMs: number | null;
  errorCode: string | null;
  /** The combo this attempt served, when the model named one. */
  combo?: string | null;
  /** The attempt's number within its request (1 = first). */
  attempt?: number;
  /** USD, from the pricing table (0 when the model has no price). */
  costUsd?: number;
  /** Images generated (image requests). */
  images?: number;
  /** Seconds of audio transcribed (transcription requests). */
  audioSeconds?: number;
}

/** One client request (a `call_logs` row): what was asked, what served it, what it cost. */
export interface CallEvent {
  requestId: string;
  method: string;
  path: string;
  surface: string;
  status: number;
  success: boolean;
  stream: boolean;
  requestedModel: string | null;
  provider: string | null;
  model: string | null;
  connectionId: string | null;
  account: string | null;
  apiKeyId: string | null;
  apiKeyName: string | null;
  comboName: string | null;
  comboStepId: string | null;
  attempts: number;
  /** `upstream`, `cache` (a response-cache hit) or null (no answer). */
  cacheSource: 'upstream' | 'cache' | null;
  idempotentReplay: boolean;
  sessionId: string | null;
  tokensInput: number;
  tokensOutput: number;
  tokensCacheRead: number;
  tokensCacheCreation: number;
  tokensReasoning: number;
  costUsd: number;
  durationMs: number;
  ttftMs: number | null;
  errorCode: string | null;
  errorSummary: string | null;
  /** A short excerpt of the last user message; null for `noLog` keys. */
  requestSummary: string | null;
  images?: number;
  audioSeconds?: number;
}

const COLUMNS =
  'id, request_id, created_at, api_key_id, api_key_name, surface, provider, model, connection_id, status, success, stream, ' +
  'tokens_input, tokens_output, tokens_cache_read, tokens_cache_creation, tokens_reasoning, latency_ms, ttft_ms, error_code, combo, attempt, cost_usd, images, audio_seconds';
const CALL_COLUMNS =
  'id, request_id, created_at, method, path, surface, status, success, stream, requested_model, provider, model, ' +
  'connection_id, account, api_key_id, api_key_name, combo_name, combo_step_id, attempts, cache_source, ' +
  'idempotent_replay, session_id, tokens_input, tokens_output, tokens_cache_read, tokens_cache_creation, ' +
  'tokens_reasoning, cost_usd, duration_ms, ttft_ms, error_code, error_summary, request_summary, images, audio_seconds';
// Columns named on both sides: a column added later keeps its default instead of getting NULL.
function insertSql(table: string, columns: string): string {
  return (
    `INSERT INTO ${table} (${columns}) SELECT ${columns} ` +
    `FROM json_populate_recordset(NULL::${table}, $1::json) ON CONFLICT (id) DO NOTHING`
  );
}
const BATCH = 2000;

/** One buffered record: its JSON row (column names as keys), ready for json_populate_recordset. */
type Row = string;

let lastMs = 0;
let seq = 0;

/**
 * Time-ordered UUID (v7) with a 12-bit counter in `rand_a` (RFC 9562 method 1): ids made by one
 * process sort in the order they were made, and ledger inserts append to the primary-key index.
 */
const POOL_SIZE = 16 * 256;
let pool = Buffer.alloc(0);
let poolAt = POOL_SIZE;

/** 16 random bytes from a pooled buffer (one crypto call per 256 ids). */
function random16(): Buffer {
  if (poolAt >= POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolAt = 0;
  }
  const b = Buffer.from(pool.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  return b;
}

export function uuidv7(now = Date.now()): string {
  const b = random16();
  if (now > lastMs) {
    lastMs = now;
    seq = b.readUInt16BE(6) & 0x3ff; // random start, room to count up within the millisecond
  } else {
    seq++;
    if (seq > 0xfff) {
      lastMs++; // counter exhausted: borrow the next millisecond
      seq = 0;
    }
  }
  b.writeUIntBE(lastMs, 0, 6);
  b[6] = 0x70 | ((seq >> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * One table's append buffer: rows kept as compact JSON strings, written in batches with one
 * `INSERT … SELECT FROM json_populate_recordset($1)` (a single parameter whatever the batch size).
 * Beyond `max` rows (a long database outage) the oldest are dropped and counted.
 */
class BatchWriter {
  buffer: Row[] = [];
  /** Rows dropped from the head (full buffer), so a drain in flight removes the right ones. */
  private headDrops = 0;
  private flushing?: Promise<void>;
  private failing = false;

  constructor(
    private readonly what: string,
    private readonly sql: string,
    private readonly ds: DataSource,
    private readonly logger: Logger,
    private readonly max: number,
    private readonly onDepth: (n: number) => void,
    private readonly onWritten: (n: number) => void,
    private readonly onDropped: () => void,
  ) {}

  push(row: Row): void {
    if (this.buffer.length >= this.max) {
      this.buffer.shift();
      this.headDrops++;
      this.onDropped();
    }
    this.buffer.push(row);
    this.onDepth(this.buffer.length);
  }

  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.drain().finally(() => (this.flushing = undefined));
    }
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length) {
      const batch = this.buffer.slice(0, BATCH);
      const dropsBefore = this.headDrops;
      try {
        await this.ds.query(this.sql, [`[${batch.join(',')}]`]);
      } catch (e) {
        if (!this.failing) {
          this.logger.warn(
            `${this.what} write failed, keeping ${this.buffer.length} rows buffered: ${(e as Error).message}`,
          );
        }
        this.failing = true;
        return;
      }
      if (this.failing) {
        this.logger.log(`${this.what} writes recovered`);
        this.failing = false;
      }
      // Rows of this batch that a full buffer dropped meanwhile are already gone from the head.
      this.buffer.splice(0, Math.max(0, batch.length - (this.headDrops - dropsBefore)));
      this.onWritten(batch.length);
      this.onDepth(this.buffer.length);
    }
  }
}

/**
 * The usage ledger's writer: one `usage_records` row per upstream attempt and one `call_logs` row
 * per client request. `record()` / `recordCall()` only append to in-memory buffers (never awaited
 * by a request); a timer flushes batches. Each row carries its own id and the insert is
 * `ON CONFLICT DO NOTHING`, so a retried batch never counts twice. While Postgres is unreachable
 * each buffer keeps up to `USAGE_BUFFER_MAX` rows (the oldest are dropped beyond it, counted in
 * `gateway_usage_dropped_total`) and drains when it returns; shutdown flushes them.
 */
@Injectable()
export class UsageService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(UsageService.name);
  private readonly usage: BatchWriter;
  private readonly calls: BatchWriter;
  private timer?: NodeJS.Timeout;

  constructor(
    ds: DataSource,
    private readonly metrics: MetricsService,
    private readonly env: Env,
  ) {
    this.usage = new BatchWriter(
      'usage',
      insertSql('usage_records', COLUMNS),
      ds,
      this.logger,
      env.USAGE_BUFFER_MAX,
      (n) => metrics.usageBuffered.set(n),
      (n) => metrics.usageWritten.inc(n),
      () => metrics.usageDropped.inc(),
    );
    this.calls = new BatchWriter(
      'call log',
      insertSql('call_logs', CALL_COLUMNS),
      ds,
      this.logger,
      env.USAGE_BUFFER_MAX,
      (n) => metrics.callLogBuffered.set(n),
      () => undefined,
      () => metrics.usageDropped.inc(),
    );
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.env.USAGE_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    // Bounded final drain: a few attempts, then whatever is left is reported.
    for (let i = 0; i < 5 && this.pending() + this.calls.buffer.length; i++) {
      await this.flush();
      if (this.pending() + this.calls.buffer.length) {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (this.pending() + this.calls.buffer.length) {
      this.logger.error(
        `shutdown with ${this.pending()} usage records and ${this.calls.buffer.length} call logs unwritten (database unreachable)`,
      );
    }
  }

  record(e: UsageEvent): void {
    // Kept as one flat string: a buffered record costs the garbage collector almost nothing.
    this.usage.push(
      JSON.stringify({
        id: uuidv7(),
        request_id: e.requestId,
        created_at: new Date().toISOString(),
        api_key_id: e.apiKeyId,
        api_key_name: e.apiKeyName,
        surface: e.surface,
        provider: e.provider,
        model: e.model === null ? null : e.model.slice(0, 300),
        connection_id: e.connectionId,
        status: e.status,
        success: e.success,
        stream: e.stream,
        tokens_input: e.tokensInput,
        tokens_output: e.tokensOutput,
        tokens_cache_read: e.tokensCacheRead,
        tokens_cache_creation: e.tokensCacheCreation,
        tokens_reasoning: e.tokensReasoning,
        latency_ms: Math.round(e.latencyMs),
        ttft_ms: e.ttftMs === null ? null : Math.round(e.ttftMs),
        error_code: e.errorCode,
        combo: e.combo ?? null,
        attempt: e.attempt ?? 1,
        cost_usd: e.costUsd ?? 0,
        images: e.images ?? 0,
        audio_seconds: e.audioSeconds ?? 0,
      }),
    );
  }

  recordCall(c: CallEvent): void {
    const cut = (v: string | null, n: number): string | null => (v === null ? null : v.slice(0, n));
    this.calls.push(
      JSON.stringify({
        id: uuidv7(),
        request_id: c.requestId,
        created_at: new Date().toISOString(),
        method: c.method,
        path: c.path.slice(0, 300),
        surface: c.surface,
        status: c.status,
        success: c.success,
        stream: c.stream,
        requested_model: cut(c.requestedModel, 300),
        provider: c.provider,
        model: cut(c.model, 300),
        connection_id: c.connectionId,
        account: cut(c.account, 200),
        api_key_id: c.apiKeyId,
        api_key_name: c.apiKeyName,
        combo_name: c.comboName,
        combo_step_id: cut(c.comboStepId, 200),
        attempts: c.attempts,
        cache_source: c.cacheSource,
        idempotent_replay: c.idempotentReplay,
        session_id: cut(c.sessionId, 80),
        tokens_input: c.tokensInput,
        tokens_output: c.tokensOutput,
        tokens_cache_read: c.tokensCacheRead,
        tokens_cache_creation: c.tokensCacheCreation,
        tokens_reasoning: c.tokensReasoning,
        cost_usd: c.costUsd,
        duration_ms: Math.round(c.durationMs),
        ttft_ms: c.ttftMs === null ? null : Math.round(c.ttftMs),
        error_code: cut(c.errorCode, 80),
        error_summary: cut(c.errorSummary, 500),
        request_summary: cut(c.requestSummary, 300),
        images: c.images ?? 0,
        audio_seconds: c.audioSeconds ?? 0,
      }),
    );
  }

  /** Usage records waiting to be written. */
  pending(): number {
    return this.usage.buffer.length;
  }

  /** Writes everything buffered now (used by the timer, shutdown and tests). */
  async flush(): Promise<void> {
    await Promise.all([this.usage.flush(), this.calls.flush()]);
  }
}
