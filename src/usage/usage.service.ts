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
}

const COLUMNS =
  'id, request_id, created_at, api_key_id, api_key_name, surface, provider, model, connection_id, status, success, stream, ' +
  'tokens_input, tokens_output, tokens_cache_read, tokens_cache_creation, tokens_reasoning, latency_ms, ttft_ms, error_code, combo, attempt';
// Columns named on both sides: a column added later keeps its default instead of getting NULL.
const INSERT_SQL =
  `INSERT INTO usage_records (${COLUMNS}) SELECT ${COLUMNS} ` +
  'FROM json_populate_recordset(NULL::usage_records, $1::json) ON CONFLICT (id) DO NOTHING';
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
 * The usage ledger's writer. `record()` only appends to an in-memory buffer (never awaited by a
 * request), as one compact JSON row; a timer flushes batches with one INSERT. Each event carries its own id and
 * the insert is `ON CONFLICT DO NOTHING`, so a retried batch never counts twice. While Postgres is
 * unreachable the buffer keeps up to `USAGE_BUFFER_MAX` events (the oldest are dropped beyond it,
 * counted in `gateway_usage_dropped_total`) and drains when it returns; shutdown flushes it.
 */
@Injectable()
export class UsageService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(UsageService.name);
  private buffer: Row[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private failing = false;
  /** Records dropped from the head of the buffer (full buffer), so a drain in flight removes the right ones. */
  private headDrops = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly metrics: MetricsService,
    private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.env.USAGE_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    // Bounded final drain: a few attempts, then whatever is left is reported.
    for (let i = 0; i < 5 && this.buffer.length; i++) {
      await this.flush();
      if (this.buffer.length) {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (this.buffer.length) {
      this.logger.error(
        `shutdown with ${this.buffer.length} usage records unwritten (database unreachable)`,
      );
    }
  }

  record(e: UsageEvent): void {
    if (this.buffer.length >= this.env.USAGE_BUFFER_MAX) {
      this.buffer.shift();
      this.headDrops++;
      this.metrics.usageDropped.inc();
    }
    // Kept as one flat string: a buffered record costs the garbage collector almost nothing.
    this.buffer.push(
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
      }),
    );
    this.metrics.usageBuffered.set(this.buffer.length);
  }

  pending(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered now (used by the timer, shutdown and tests). */
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
        await this.insert(batch);
      } catch (e) {
        if (!this.failing) {
          this.logger.warn(
            `usage write failed, keeping ${this.buffer.length} records buffered: ${(e as Error).message}`,
          );
        }
        this.failing = true;
        return;
      }
      if (this.failing) {
        this.logger.log('usage writes recovered');
        this.failing = false;
      }
      // Records of this batch that a full buffer dropped meanwhile are already gone from the head.
      this.buffer.splice(0, Math.max(0, batch.length - (this.headDrops - dropsBefore)));
      this.metrics.usageWritten.inc(batch.length);
      this.metrics.usageBuffered.set(this.buffer.length);
    }
  }

  /** One INSERT … SELECT FROM json_populate_recordset: a single parameter whatever the batch size. */
  private async insert(batch: Row[]): Promise<void> {
    await this.ds.query(INSERT_SQL, [`[${batch.join(',')}]`]);
  }
}
