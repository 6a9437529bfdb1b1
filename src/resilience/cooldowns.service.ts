import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import type { CooldownPlan, FailureReason } from './classify';
import { COOLDOWN_FAILURE, nextCooldown, type CooldownRecord } from './kv-scripts';
import type { CooldownProfile } from './resilience.settings';

const HASH = 'cooldowns';
const CHANNEL = 'cooldowns';
const MAX_HINT_MS = 24 * 3600_000;
const RESYNC_MS = 15_000;

/** Reasons that make an account unusable until an admin acts (new key, test, reset). */
const PERMANENT: ReadonlySet<string> = new Set<FailureReason>([
  'banned',
  'credits_exhausted',
  'unauthorized',
]);

export interface CooldownView extends CooldownRecord {
  connectionId: string;
  /** Set when only this (connection, model) pair is locked. */
  model: string | null;
  permanent: boolean;
  remainingMs: number;
}

export interface Blocked {
  until: number;
  reason: string;
  status: number;
  scope: 'connection' | 'model';
  permanent: boolean;
}

function fieldOf(connectionId: string, model?: string | null): string {
  return model ? `${connectionId}|${model}` : connectionId;
}

/**
 * Account cooldowns and per-model lockouts (reference §5.5), shared by every replica. A failure is
 * recorded by one atomic script in the key-value store (exponential backoff level, upstream hints,
 * no extension of a running cooldown when several replicas fail at once) and broadcast; each
 * replica reads its in-memory mirror on the hot path. A permanent lock (bad key, banned, credits
 * exhausted) lasts until the connection is edited or tested again, or the locks are reset.
 */
@Injectable()
export class Cooldowns implements OnModuleInit, OnModuleDestroy {
  private readonly local = new Map<string, CooldownRecord>();
  private unsubscribe?: Unsubscribe;
  private timer?: NodeJS.Timeout;

  constructor(@Inject(KV_STORE) private readonly kv: KvStore) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(CHANNEL, (msg) => {
        try {
          const { field, rec } = JSON.parse(msg) as { field: string; rec: CooldownRecord | null };
          if (field === '*') {
            this.local.clear();
          } else if (rec) {
            this.local.set(field, rec);
          } else {
            this.local.delete(field);
          }
        } catch {
          /* ignore malformed */
        }
      })
      .catch(() => undefined);
    await this.resync();
    this.timer = setInterval(() => void this.resync(), RESYNC_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  private async resync(): Promise<void> {
    try {
      const all = await this.kv.hgetall(HASH);
      const next = new Map<string, CooldownRecord>();
      for (const [field, raw] of Object.entries(all)) {
        try {
          next.set(field, JSON.parse(raw) as CooldownRecord);
        } catch {
          /* ignore */
        }
      }
      this.local.clear();
      for (const [k, v] of next) {
        this.local.set(k, v);
      }
    } catch {
      /* the store is down: keep the mirror */
    }
  }

  private active(
    field: string,
    now: number,
    connUpdatedAt: number,
  ): (CooldownRecord & { permanent: boolean }) | undefined {
    const rec = this.local.get(field);
    if (!rec || rec.until <= now) {
      return undefined;
    }
    const permanent = PERMANENT.has(rec.reason);
    if (permanent && connUpdatedAt > rec.at) {
      return undefined; // the connection was edited (new key) or re-tested since
    }
    return { ...rec, permanent };
  }

  /** Why this account cannot serve this model now, or undefined when it can. */
  blocked(
    connectionId: string,
    model: string,
    connUpdatedAt: number,
    now = Date.now(),
  ): Blocked | undefined {
    if (!this.local.size) {
      return undefined;
    }
    const c = this.active(connectionId, now, connUpdatedAt);
    const m = this.active(fieldOf(connectionId, model), now, connUpdatedAt);
    const hit = c && m ? (c.until >= m.until ? c : m) : (c ?? m);
    if (!hit) {
      return undefined;
    }
    return {
      until: hit.until,
      reason: hit.reason,
      status: hit.status,
      scope: hit === c ? 'connection' : 'model',
      permanent: hit.permanent,
    };
  }

  /** Records a failure's cooldown (atomically across replicas); resolves with the stored record. */
  async fail(
    connectionId: string,
    model: string,
    plan: CooldownPlan,
    reason: string,
    status: number,
    profile: CooldownProfile,
  ): Promise<CooldownRecord> {
    const field = fieldOf(connectionId, plan.scope === 'model' ? model : null);
    const mode = plan.mode;
    const ms = plan.mode === 'backoff' ? 0 : plan.ms;
    const now = Date.now();
    let rec: CooldownRecord;
    try {
      rec = await this.kv.run(
        COOLDOWN_FAILURE,
        [HASH],
        [
          field,
          now,
          reason,
          status,
          mode,
          ms,
          profile.baseCooldownMs,
          profile.maxBackoffSteps,
          MAX_HINT_MS,
        ],
      );
      void this.kv
        .publish(CHANNEL, JSON.stringify({ field, rec: strip(rec) }))
        .catch(() => undefined);
    } catch {
      rec = localCooldown(this.local.get(field), now, reason, status, mode, ms, profile);
    }
    this.local.set(field, strip(rec));
    return rec;
  }

  /** A success clears the account's (and this model's) cooldown and backoff level. */
  succeed(connectionId: string, model: string): void {
    if (!this.local.size) {
      return;
    }
    for (const field of [connectionId, fieldOf(connectionId, model)]) {
      if (this.local.has(field)) {
        this.local.delete(field);
        void this.kv
          .hdel(HASH, field)
          .then(() => this.kv.publish(CHANNEL, JSON.stringify({ field, rec: null })))
          .catch(() => undefined);
      }
    }
  }

  /** Active cooldowns and lockouts (expired ones that only keep a backoff level are left out). */
  list(now = Date.now()): CooldownView[] {
    const out: CooldownView[] = [];
    for (const [field, rec] of this.local) {
      if (rec.until <= now) {
        continue;
      }
      const bar = field.indexOf('|');
      out.push({
        ...rec,
        connectionId: bar < 0 ? field : field.slice(0, bar),
        model: bar < 0 ? null : field.slice(bar + 1),
        permanent: PERMANENT.has(rec.reason),
        remainingMs: rec.until - now,
      });
    }
    return out;
  }

  /** Clears every lock (or one connection's, or one (connection, model) pair); returns how many. */
  async clear(connectionId?: string, model?: string): Promise<number> {
    const fields = [
      ...new Set([...this.local.keys(), ...Object.keys(await this.kv.hgetall(HASH))]),
    ].filter((f) => {
      if (!connectionId) {
        return true;
      }
      if (model) {
        return f === fieldOf(connectionId, model);
      }
      return f === connectionId || f.startsWith(`${connectionId}|`);
    });
    const now = Date.now();
    const active = fields.filter((f) => (this.local.get(f)?.until ?? 0) > now).length;
    if (fields.length) {
      await this.kv.hdel(HASH, ...fields);
    }
    for (const f of fields) {
      this.local.delete(f);
      await this.kv.publish(CHANNEL, JSON.stringify({ field: f, rec: null }));
    }
    return active;
  }
}

function strip(rec: CooldownRecord): CooldownRecord {
  return { until: rec.until, level: rec.level, reason: rec.reason, status: rec.status, at: rec.at };
}

/** The script's rule, for when the shared store is unreachable (this replica only). */
function localCooldown(
  prev: CooldownRecord | undefined,
  now: number,
  reason: string,
  status: number,
  mode: CooldownPlan['mode'],
  ms: number,
  profile: CooldownProfile,
): CooldownRecord {
  if (prev && prev.until > now) {
    return prev;
  }
  return nextCooldown(
    prev?.level ?? 0,
    now,
    mode,
    ms,
    profile.baseCooldownMs,
    profile.maxBackoffSteps,
    MAX_HINT_MS,
    { reason, status },
  );
}
