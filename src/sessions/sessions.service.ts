import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '@/common/errors/app-error';
import { within } from '@/common/kv/within';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { resolveSession, type SessionSource } from './session-id';
import { SESSION_BIND, SESSION_PRUNE, SESSION_TOUCH, type SessionRecord } from './session-scripts';

/** A session is active until this long without a request (reference §7.5). */
export const SESSION_TTL_MS = 30 * 60_000;
/** How often a key's active set is swept of idle sessions by the touch script. */
const PRUNE_EVERY_MS = 60_000;
/** Sticky bindings kept in memory (least recently used dropped first). */
const AFFINITY_MAX = 50_000;
/** `GET /api/sessions` lists at most this many (newest first). */
const LIST_MAX = 1_000;
/** Records read in parallel while listing. */
const READ_BATCH = 100;
const BIND_CHANNEL = 'sessions:bind';
const WARN_EVERY_MS = 60_000;
/** How long a limit check may wait for the store before the request goes on without it. */
export const TOUCH_BUDGET_MS = 300;
/** The active-set name of requests without an API key. */
export const ANONYMOUS_KEY = 'anon';

const recordKey = (sessionId: string): string => `sess:${sessionId}`;
const setKey = (keyField: string): string => `sess:key:${keyField}`;
const INDEX_KEY = 'sess:keys';

export interface SessionInfo {
  sessionId: string;
  apiKeyId: string | null;
  createdAt: string;
  lastActive: string;
  requestCount: number;
  connectionId: string | null;
  ageMs: number;
  source: SessionSource;
}

export interface SessionList {
  /** Active sessions in total (sessions lists the newest 1000 of them). */
  count: number;
  sessions: SessionInfo[];
  /** Active sessions per API key id (`anon` for requests without a key). */
  byApiKey: Record<string, number>;
}

export type TouchOutcome = { ok: true } | { ok: false; error: AppError };

interface Binding {
  connectionId: string;
  at: number;
  /** The replica that bound it (ties between replicas go to the greater id). */
  from: string;
}

interface BindMessage {
  s: string;
  c: string;
  at: number;
  from: string;
}

/**
 * Client sessions (reference §7.5), shared by every replica through the key-value store: the id
 * of each request (a client header or a fingerprint of the conversation), the per-key limit of
 * concurrently active sessions (`maxSessions`, enforced atomically by one script), the sticky
 * binding of a session to the account that served it (an in-process LRU kept in step across
 * replicas by pub/sub), and the listing behind `GET /api/sessions`.
 *
 * Nothing here fails a request because the store is down: `touch` then answers ok (the limit is
 * not enforced) and a warning is logged at most once a minute.
 */
/** Touches without a limit to check are sent in one batch this often. */
const TOUCH_FLUSH_MS = 1_000;

@Injectable()
export class SessionsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionsService.name);
  private readonly bindings = new Map<string, Binding>();
  /** Tells this replica's own broadcasts apart from other replicas'. */
  private readonly instanceId = randomUUID();
  private unsubscribe?: Unsubscribe;
  private warnedAt = 0;
  private readonly pendingTouches = new Map<
    string,
    { sessionId: string; apiKeyId: string | null; source: SessionSource; requests: number }
  >();
  private flushTimer?: NodeJS.Timeout;

  constructor(@Inject(KV_STORE) private readonly kv: KvStore) {}

  async onModuleInit(): Promise<void> {
    this.flushTimer = setInterval(() => void this.flushTouches(), TOUCH_FLUSH_MS);
    this.flushTimer.unref();
    this.unsubscribe = await this.kv
      .subscribe(BIND_CHANNEL, (msg) => this.onBindMessage(msg))
      .catch((e: Error) => {
        this.warn('session affinity is not shared with other replicas', e);
        return undefined;
      });
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushTouches();
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /**
   * The session id of a request (synchronous, no I/O, never throws): the first present of the
   * headers `x-session-id`, `x-omniroute-session-id`, `x-claude-code-session-id`,
   * `x-codex-session-id`, `session_id`, `conversation_id`, else the body's `metadata.session_id`
   * or `prompt_cache_key` — as `ext:<value>` (≤ 64 characters, else `ext:<sha256[:32]>`) — else
   * a fingerprint of the model, system prompt, first user message and tool names (`fp:<16 hex>`).
   */
  resolve(
    headers: IncomingHttpHeaders,
    body: unknown,
    model: string,
  ): { id: string; source: 'header' | 'fingerprint' } {
    return resolveSession(headers, body, model);
  }

  /**
   * Records one request of a session for a key and enforces the key's `maxSessions` (null =
   * unlimited): a new session beyond the limit is refused with 429 SESSION_LIMIT_EXCEEDED;
   * sessions already active always pass. Never throws: when the store fails, or takes longer
   * than TOUCH_BUDGET_MS to check a limit, the answer is ok (and a warning is logged at most
   * once a minute).
   */
  async touch(
    sessionId: string,
    apiKeyId: string | null,
    maxSessions: number | null,
    source: SessionSource,
    requests = 1,
  ): Promise<TouchOutcome> {
    const keyField = apiKeyId ?? ANONYMOUS_KEY;
    const now = Date.now();
    const max = maxSessions !== null && maxSessions > 0 ? Math.floor(maxSessions) : 0;
    try {
      const run = this.kv.run(
        SESSION_TOUCH,
        [recordKey(sessionId), setKey(keyField), INDEX_KEY],
        [
          sessionId,
          now,
          SESSION_TTL_MS,
          max,
          apiKeyId ?? '',
          source,
          keyField,
          PRUNE_EVERY_MS,
          requests,
        ],
      );
      // Only a limit check is awaited by a request: it gets a time budget.
      const r = !max ? await run : await within(run, TOUCH_BUDGET_MS);
      if (r.ok) {
        return { ok: true };
      }
      return {
        ok: false,
        error: new AppError(
          'SESSION_LIMIT_EXCEEDED',
          'RATE_LIMITED',
          `You have reached the maximum number of active sessions (${max}) for this API key; finish one or wait for it to expire (30 min idle)`,
          { maxSessions: max, activeSessions: r.active },
        ),
      };
    } catch (e) {
      this.warn('sessions not recorded and session limits not enforced', e);
      return { ok: true };
    }
  }

  /** `touch` without a limit, for the hot path to call without awaiting it. */
  touchLater(sessionId: string, apiKeyId: string | null, source: SessionSource): void {
    // Coalesced: one store call per session per second, whatever the request rate.
    const k = `${apiKeyId ?? ''}\u0000${sessionId}`;
    const p = this.pendingTouches.get(k);
    if (p) {
      p.requests++;
    } else {
      this.pendingTouches.set(k, { sessionId, apiKeyId, source, requests: 1 });
    }
  }

  /** Sends the coalesced touches (also on shutdown). */
  async flushTouches(): Promise<void> {
    const batch = [...this.pendingTouches.values()];
    this.pendingTouches.clear();
    for (const t of batch) {
      await this.touch(t.sessionId, t.apiKeyId, null, t.source, t.requests);
    }
  }

  /** The connection that last served this session (in-process LRU), or undefined. */
  affinity(sessionId: string): string | undefined {
    const b = this.bindings.get(sessionId);
    if (!b) {
      return undefined;
    }
    // Most recently used last.
    this.bindings.delete(sessionId);
    this.bindings.set(sessionId, b);
    return b.connectionId;
  }

  /**
   * Remembers the connection that served a session: here at once, in its record, and on the
   * other replicas (broadcast only when the binding changed). Fire-and-forget.
   */
  bind(sessionId: string, connectionId: string): void {
    const prev = this.bindings.get(sessionId);
    const at = Date.now();
    if (prev?.connectionId === connectionId) {
      this.remember(sessionId, { ...prev });
      return; // unchanged: nothing to store or tell (no store call per request)
    }
    this.remember(sessionId, { connectionId, at, from: this.instanceId });
    void this.kv
      .run(SESSION_BIND, [recordKey(sessionId)], [connectionId, SESSION_TTL_MS])
      .catch((e: unknown) => this.warn('session binding not stored', e));
    const msg: BindMessage = { s: sessionId, c: connectionId, at, from: this.instanceId };
    void this.kv
      .publish(BIND_CHANNEL, JSON.stringify(msg))
      .catch((e: unknown) => this.warn('session binding not broadcast', e));
  }

  /**
   * Active sessions, newest first (at most 1000), with the total and the count per API key;
   * `apiKeyId` (a key id, or `anon`) narrows it to one key. Idle sessions are pruned on the way.
   */
  async list(apiKeyId?: string): Promise<SessionList> {
    try {
      return await this.collect(apiKeyId);
    } catch (e) {
      this.logger.warn(`sessions listing failed: ${(e as Error).message}`);
      throw new AppError(
        'SESSION_STORE_UNAVAILABLE',
        'UNAVAILABLE',
        'The session store is unavailable; retry shortly',
      );
    }
  }

  private async collect(apiKeyId?: string): Promise<SessionList> {
    const now = Date.now();
    const keyFields =
      apiKeyId !== undefined ? [apiKeyId] : Object.keys(await this.kv.hgetall(INDEX_KEY));
    const byApiKey: Record<string, number> = {};
    /** sessionId → its last request and the key that sent it (a session may span keys). */
    const latest = new Map<string, { at: number; keyField: string }>();
    for (const keyField of keyFields) {
      const { sessions } = await this.kv.run(
        SESSION_PRUNE,
        [setKey(keyField), INDEX_KEY],
        [keyField, now, SESSION_TTL_MS],
      );
      const ids = Object.keys(sessions);
      if (!ids.length) {
        continue;
      }
      byApiKey[keyField] = ids.length;
      for (const id of ids) {
        const at = sessions[id];
        const seen = latest.get(id);
        if (!seen || seen.at < at) {
          latest.set(id, { at, keyField });
        }
      }
    }
    const newest = [...latest.entries()]
      .sort((a, b) => b[1].at - a[1].at || (a[0] < b[0] ? -1 : 1))
      .slice(0, LIST_MAX);
    const sessions: SessionInfo[] = [];
    for (let i = 0; i < newest.length; i += READ_BATCH) {
      const batch = newest.slice(i, i + READ_BATCH);
      const raws = await Promise.all(batch.map(([id]) => this.kv.get(recordKey(id))));
      batch.forEach(([id, { at, keyField }], j) => {
        sessions.push(this.toInfo(id, keyField, at, raws[j], now));
      });
    }
    return { count: latest.size, sessions, byApiKey };
  }

  private toInfo(
    sessionId: string,
    keyField: string,
    lastActive: number,
    raw: string | null,
    now: number,
  ): SessionInfo {
    let rec: Partial<SessionRecord> = {};
    try {
      rec = raw ? (JSON.parse(raw) as Partial<SessionRecord>) : {};
    } catch {
      /* unreadable: what the set knows */
    }
    const createdAt = typeof rec.createdAt === 'number' ? rec.createdAt : lastActive;
    return {
      sessionId,
      apiKeyId: keyField === ANONYMOUS_KEY ? null : keyField,
      createdAt: new Date(createdAt).toISOString(),
      lastActive: new Date(lastActive).toISOString(),
      requestCount: typeof rec.requestCount === 'number' ? rec.requestCount : 1,
      connectionId:
        typeof rec.connectionId === 'string'
          ? rec.connectionId
          : (this.bindings.get(sessionId)?.connectionId ?? null),
      ageMs: Math.max(0, now - createdAt),
      source:
        rec.source === 'header' || rec.source === 'fingerprint'
          ? rec.source
          : sessionId.startsWith('fp:')
            ? 'fingerprint'
            : 'header',
    };
  }

  private remember(sessionId: string, b: Binding): void {
    this.bindings.delete(sessionId);
    this.bindings.set(sessionId, b);
    if (this.bindings.size > AFFINITY_MAX) {
      this.bindings.delete(this.bindings.keys().next().value as string);
    }
  }

  private onBindMessage(raw: string): void {
    let msg: Partial<BindMessage>;
    try {
      msg = JSON.parse(raw) as Partial<BindMessage>;
    } catch {
      return;
    }
    if (
      msg.from === this.instanceId ||
      typeof msg.s !== 'string' ||
      typeof msg.c !== 'string' ||
      typeof msg.at !== 'number'
    ) {
      return;
    }
    const cur = this.bindings.get(msg.s);
    const from = typeof msg.from === 'string' ? msg.from : '';
    // The latest binding wins everywhere (ties broken the same way on every replica).
    if (!cur || cur.at < msg.at || (cur.at === msg.at && cur.from < from)) {
      this.remember(msg.s, { connectionId: msg.c, at: msg.at, from });
    }
  }

  private warn(what: string, e: unknown): void {
    const now = Date.now();
    if (now - this.warnedAt < WARN_EVERY_MS) {
      return;
    }
    this.warnedAt = now;
    this.logger.warn(
      `${what}: key-value store error: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
