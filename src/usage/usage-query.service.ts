import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError, isAppError } from '@/common/errors/app-error';
import { ProvidersService } from '@/providers/providers.service';
import {
  LOGS_DEFAULT_LIMIT,
  MAX_RANGE_DAYS,
  type UsageHistoryQueryDto,
  type UsageLogsQueryDto,
  type UsageRangeQueryDto,
} from './dto/usage-query.dto';
import type {
  AccountUsageBucket,
  ApiKeyUsageBucket,
  CallLogItem,
  CallLogsResponse,
  ConnectionUsageResponse,
  MinuteBucket,
  ModelUsageBucket,
  UsageBucket,
  UsageHistoryResponse,
} from './dto/usage.response';
import {
  GROUPING,
  callsSql,
  connectionLastSql,
  connectionSql,
  historySql,
  logsSql,
  minutesSql,
  type LogsFilter,
  type SqlQuery,
} from './usage-query.sql';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CURSOR_TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

type Row = Record<string, unknown>;
type FieldError = { field: string; message: string };

function invalid(fields: FieldError[]): AppError {
  return AppError.invalid('Invalid request', { fields }, 'VALIDATION_FAILED');
}

/** pg returns counts and bigint/numeric sums as strings; NULL sums (no rows) as null. */
function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}

/** Float sums of many small costs: nano-dollar precision is plenty and hides float noise. */
function usd(v: unknown): number {
  return Math.round(num(v) * 1e9) / 1e9;
}

function iso(v: unknown): string | null {
  return v === null || v === undefined ? null : new Date(v as string | Date).toISOString();
}

/** Text columns (varchar, uuid) come back as strings; NULL as null. */
function str(v: unknown): string | null {
  if (typeof v === 'string') {
    return v;
  }
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' ? `${v}` : null;
}

/** A NOT NULL text column. */
function text(v: unknown): string {
  return str(v) ?? '';
}

function parseTime(field: string, v: string | undefined): Date | undefined {
  if (v === undefined) {
    return undefined;
  }
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) {
    throw invalid([{ field, message: `${field} must be an ISO 8601 date-time` }]);
  }
  return d;
}

/** `[from, to)` of the aggregate endpoints: default the last 24 h, at most MAX_RANGE_DAYS. */
export function resolveRange(q: UsageRangeQueryDto, now = new Date()): { from: Date; to: Date } {
  const to = parseTime('to', q.to) ?? now;
  const from = parseTime('from', q.from) ?? new Date(to.getTime() - DAY_MS);
  if (from.getTime() >= to.getTime()) {
    throw invalid([{ field: 'from', message: 'from must be before to' }]);
  }
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw invalid([
      { field: 'to', message: `the range from..to must be at most ${MAX_RANGE_DAYS} days` },
    ]);
  }
  return { from, to };
}

/** Opaque keyset cursor: the last row's created_at (microseconds) and id. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (rest.length || !CURSOR_TS_RE.test(createdAt ?? '') || !UUID_RE.test(id ?? '')) {
    throw invalid([{ field: 'cursor', message: 'cursor is not a nextCursor of this endpoint' }]);
  }
  return { createdAt, id };
}

/** OmniRoute's log line: `<ISO ts> | <model> | <PROVIDER> | <account> | <in> | <out> | <status>`. */
export function logLine(r: CallLogItem): string {
  return [
    r.createdAt,
    r.requestedModel ?? r.model ?? '-',
    (r.provider ?? '-').toUpperCase(),
    r.account ?? '-',
    r.tokensInput,
    r.tokensOutput,
    r.status,
  ].join(' | ');
}

/** Audio seconds, to the millisecond (the column is a float4). */
function seconds(v: unknown): number {
  return Math.round(num(v) * 1000) / 1000;
}

function bucketOf(r: Row): UsageBucket {
  return {
    requests: num(r.requests),
    errors: num(r.errors),
    promptTokens: num(r.tokens_input),
    completionTokens: num(r.tokens_output),
    cacheReadTokens: num(r.tokens_cache_read),
    cacheCreationTokens: num(r.tokens_cache_creation),
    reasoningTokens: num(r.tokens_reasoning),
    images: num(r.images),
    audioSeconds: seconds(r.audio_seconds),
    cost: usd(r.cost),
    lastUsed: iso(r.last_used),
  };
}

function toItem(r: Row): CallLogItem {
  return {
    id: text(r.id),
    requestId: text(r.request_id),
    createdAt: new Date(r.created_at as Date).toISOString(),
    method: text(r.method),
    path: text(r.path),
    surface: text(r.surface),
    status: num(r.status),
    success: Boolean(r.success),
    stream: Boolean(r.stream),
    requestedModel: str(r.requested_model),
    provider: str(r.provider),
    model: str(r.model),
    connectionId: str(r.connection_id),
    account: str(r.account),
    apiKeyId: str(r.api_key_id),
    apiKeyName: str(r.api_key_name),
    comboName: str(r.combo_name),
    comboStepId: str(r.combo_step_id),
    attempts: num(r.attempts),
    cacheSource: str(r.cache_source),
    idempotentReplay: Boolean(r.idempotent_replay),
    sessionId: str(r.session_id),
    tokensInput: num(r.tokens_input),
    tokensOutput: num(r.tokens_output),
    tokensCacheRead: num(r.tokens_cache_read),
    tokensCacheCreation: num(r.tokens_cache_creation),
    tokensReasoning: num(r.tokens_reasoning),
    images: num(r.images),
    audioSeconds: seconds(r.audio_seconds),
    costUsd: num(r.cost_usd),
    durationMs: num(r.duration_ms),
    ttftMs: r.ttft_ms === null || r.ttft_ms === undefined ? null : num(r.ttft_ms),
    errorCode: str(r.error_code),
    errorSummary: str(r.error_summary),
    requestSummary: str(r.request_summary),
  };
}

/**
 * Reads of the usage ledger (`usage_records`, one row per upstream attempt) and the request log
 * (`call_logs`, one row per client request) for the management API. Writes stay in UsageService;
 * these are plain parameterised SQL over the indexes listed in usage-query.sql.ts.
 */
@Injectable()
export class UsageQueryService {
  constructor(
    private readonly ds: DataSource,
    private readonly providers: ProvidersService,
  ) {}

  private run(q: SqlQuery): Promise<Row[]> {
    return this.ds.query(q.text, q.values);
  }

  async history(q: UsageHistoryQueryDto, now = new Date()): Promise<UsageHistoryResponse> {
    const { from, to } = resolveRange(q, now);
    const dims = {
      apiKeyId: q.apiKeyId,
      provider: q.provider,
      model: q.model,
      connectionId: q.connectionId,
    };
    const minute0 = (Math.floor(now.getTime() / MINUTE_MS) - 9) * MINUTE_MS;
    const [groups, minutes, calls] = await Promise.all([
      this.run(historySql({ ...dims, from, to })),
      this.run(
        minutesSql({ ...dims, from: new Date(minute0), to: new Date(minute0 + 10 * MINUTE_MS) }),
      ),
      this.run(callsSql({ ...dims, from, to })),
    ]);

    let total: UsageBucket = bucketOf({});
    const byProvider: Record<string, UsageBucket> = {};
    const byModel: Record<string, ModelUsageBucket> = {};
    const byAccount: Record<string, AccountUsageBucket> = {};
    const byApiKey: Record<string, ApiKeyUsageBucket> = {};
    groups.sort((a, b) => num(b.requests) - num(a.requests));
    const accountRows: Row[] = [];
    for (const r of groups) {
      const g = num(r.g);
      const provider = str(r.provider) ?? 'unknown';
      if (g === GROUPING.total) {
        total = bucketOf(r);
      } else if (g === GROUPING.provider) {
        byProvider[provider] = bucketOf(r);
      } else if (g === GROUPING.model) {
        const model = str(r.model) ?? 'unknown';
        byModel[`${provider}/${model}`] = { provider, model, ...bucketOf(r) };
      } else if (g === GROUPING.account && r.connection_id !== null) {
        accountRows.push(r);
      } else if (g === GROUPING.apiKey && r.api_key_id !== null) {
        byApiKey[text(r.api_key_id)] = { name: str(r.api_key_name), ...bucketOf(r) };
      }
    }
    if (accountRows.length) {
      const conns = new Map((await this.providers.connectionRows()).map((c) => [c.id, c]));
      for (const r of accountRows) {
        const id = text(r.connection_id);
        const conn = conns.get(id);
        byAccount[id] = {
          name: conn?.name ?? null,
          provider: conn?.provider ?? str(r.any_provider),
          ...bucketOf(r),
        };
      }
    }

    const perMinute = new Map(minutes.map((m) => [num(m.minute) * MINUTE_MS, m]));
    const last10Minutes: MinuteBucket[] = [];
    for (let i = 0; i < 10; i++) {
      const t = minute0 + i * MINUTE_MS;
      const m = perMinute.get(t) ?? {};
      const promptTokens = num(m.tokens_input);
      const completionTokens = num(m.tokens_output);
      last10Minutes.push({
        minute: new Date(t).toISOString(),
        requests: num(m.requests),
        promptTokens,
        completionTokens,
        tokens: promptTokens + completionTokens,
        cost: usd(m.cost),
      });
    }

    const c = calls[0] ?? {};
    return {
      totalRequests: total.requests,
      totalPromptTokens: total.promptTokens,
      totalCompletionTokens: total.completionTokens,
      totalCacheReadTokens: total.cacheReadTokens,
      totalCacheCreationTokens: total.cacheCreationTokens,
      totalReasoningTokens: total.reasoningTokens,
      totalImages: total.images,
      totalAudioSeconds: total.audioSeconds,
      totalCost: total.cost,
      successRate: total.requests
        ? Math.round(((total.requests - total.errors) / total.requests) * 10_000) / 100
        : 0,
      calls: { total: num(c.total), failed: num(c.failed) },
      byProvider,
      byModel,
      byAccount,
      byApiKey,
      last10Minutes,
      range: { from: from.toISOString(), to: to.toISOString() },
    };
  }

  async logs(q: UsageLogsQueryDto): Promise<CallLogsResponse> {
    const limit = q.limit ?? LOGS_DEFAULT_LIMIT;
    const from = parseTime('from', q.from);
    const to = parseTime('to', q.to);
    if (from && to && from.getTime() >= to.getTime()) {
      throw invalid([{ field: 'from', message: 'from must be before to' }]);
    }
    const filter: LogsFilter = {
      apiKeyId: q.apiKeyId,
      provider: q.provider,
      model: q.model,
      status: q.status,
      success: q.success === undefined ? undefined : q.success === 'true',
      comboName: q.comboName,
      requestId: q.requestId,
      from,
      to,
      after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
    };
    // One row more than asked: tells whether an older page exists without a count.
    const rows = await this.run(logsSql(filter, limit + 1));
    const page = rows.slice(0, limit);
    const items = page.map(toItem);
    if (q.format !== 'json') {
      return items.map(logLine);
    }
    const last = page[page.length - 1];
    return {
      items,
      nextCursor:
        rows.length > limit && last ? encodeCursor(text(last.cursor_ts), text(last.id)) : null,
    };
  }

  /**
   * One account's ledger over the range. 404 when the id is neither a connection nor in the ledger
   * (a deleted connection keeps its history, with `name: null`).
   */
  async connection(
    connectionId: string,
    q: UsageRangeQueryDto,
    now = new Date(),
  ): Promise<ConnectionUsageResponse> {
    const { from, to } = resolveRange(q, now);
    const [conn, rows, lastRows] = await Promise.all([
      this.providers.getConnection(connectionId).catch((e: unknown) => {
        if (isAppError(e) && e.status === 404) {
          return null;
        }
        throw e;
      }),
      this.run(connectionSql(connectionId, from, to)),
      this.run(connectionLastSql(connectionId)),
    ]);
    const last = lastRows[0];
    if (!conn && !last) {
      throw AppError.notFound('Connection not found', 'CONNECTION_NOT_FOUND');
    }
    const byModel: Record<string, UsageBucket> = {};
    const t = bucketOf({});
    rows.sort((a, b) => num(b.requests) - num(a.requests));
    for (const r of rows) {
      const b = bucketOf(r);
      byModel[str(r.model) ?? 'unknown'] = b;
      t.requests += b.requests;
      t.errors += b.errors;
      t.promptTokens += b.promptTokens;
      t.completionTokens += b.completionTokens;
      t.cacheReadTokens += b.cacheReadTokens;
      t.cacheCreationTokens += b.cacheCreationTokens;
      t.reasoningTokens += b.reasoningTokens;
      t.images += b.images;
      t.audioSeconds = seconds(t.audioSeconds + b.audioSeconds);
      t.cost += b.cost;
    }
    return {
      connectionId,
      provider: conn?.provider ?? str(last?.provider),
      name: conn?.name ?? null,
      requests: t.requests,
      success: t.requests - t.errors,
      failed: t.errors,
      tokens: {
        input: t.promptTokens,
        output: t.completionTokens,
        cacheRead: t.cacheReadTokens,
        cacheCreation: t.cacheCreationTokens,
        reasoning: t.reasoningTokens,
      },
      images: t.images,
      audioSeconds: t.audioSeconds,
      cost: usd(t.cost),
      lastUsedAt: iso(last?.created_at),
      byModel,
      range: { from: from.toISOString(), to: to.toISOString() },
    };
  }
}
