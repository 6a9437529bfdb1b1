import type { KvScript, SyncKv } from '@/common/kv/kv-store';

/**
 * The resilience layer's atomic read-modify-writes (breakers, cooldowns, rate limits, account
 * picks, latency stats). Each is written twice with the same semantics: Lua for Redis and a
 * JavaScript twin for the in-process store; `kv-scripts.contract.ts` runs both against the same
 * expectations. Times are ms epoch numbers passed as arguments (`now`), so the scripts never read
 * a clock; arguments arrive as strings (`tonumber` / `num`).
 *
 * Lua notes: `until` is a Lua keyword (so `r['until']`); GET/HGET answer `false` for a missing
 * key; cjson encodes numbers with 14 significant digits, so integer results are floored and the
 * one fractional value (a latency EWMA) is rounded to 14 digits by both twins.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerRecord {
  state: BreakerState;
  failures: number;
  openedAt: number;
  lastFailureAt: number;
  probeUntil: number;
}

export interface CooldownRecord {
  until: number;
  level: number;
  reason: string;
  status: number;
  at: number;
}

/** How long a breaker record lives after its last write. */
const BREAKER_TTL_MS = 7 * 24 * 3600_000;

// ---------------------------------------------------------------------------------------------
// JavaScript helpers (mirroring the Lua ones below)

/** `tonumber(s) or 0`. */
function num(s: string | null | undefined): number {
  if (s === null || s === undefined || s.trim() === '') {
    return 0;
  }
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

/** A number read from stored JSON (`tonumber(v) or 0`). */
function numField(v: unknown): number {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : 0;
  }
  return typeof v === 'string' ? num(v) : 0;
}

/** Stored JSON as an object, or undefined when missing or unreadable (like a failed cjson.decode). */
function decode(raw: string | null): Record<string, unknown> | undefined {
  if (raw === null) {
    return undefined;
  }
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What cjson makes of a fractional number (`%.14g`), so both twins answer the same value. */
function g14(n: number): number {
  return Number(n.toPrecision(14));
}

/** The first index holding the smallest value (ties → lowest index). */
function argmin(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) {
    if (values[i] < values[best]) {
      best = i;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Breakers: one string key per breaker holding BreakerRecord JSON.

const BREAKER_LUA = `
local function loadBreaker(key)
  local r = { state = 'closed', failures = 0, openedAt = 0, lastFailureAt = 0, probeUntil = 0 }
  local raw = redis.call('GET', key)
  if raw then
    local ok, d = pcall(cjson.decode, raw)
    if ok and type(d) == 'table' then
      if d.state == 'open' or d.state == 'half_open' then
        r.state = d.state
      end
      r.failures = tonumber(d.failures) or 0
      r.openedAt = tonumber(d.openedAt) or 0
      r.lastFailureAt = tonumber(d.lastFailureAt) or 0
      r.probeUntil = tonumber(d.probeUntil) or 0
    end
  end
  return r
end
local function saveBreaker(key, r)
  redis.call('SET', key, cjson.encode(r), 'PX', ${BREAKER_TTL_MS})
end
`;

function loadBreaker(kv: SyncKv, key: string): BreakerRecord {
  const d = decode(kv.get(key));
  const state: BreakerState = d?.state === 'open' || d?.state === 'half_open' ? d.state : 'closed';
  return {
    state,
    failures: numField(d?.failures),
    openedAt: numField(d?.openedAt),
    lastFailureAt: numField(d?.lastFailureAt),
    probeUntil: numField(d?.probeUntil),
  };
}

function saveBreaker(kv: SyncKv, key: string, r: BreakerRecord): void {
  kv.set(key, JSON.stringify(r), BREAKER_TTL_MS);
}

/**
 * keys [breakerKey]  args [now, threshold]. The breaker is one string key holding JSON (missing =
 * closed, 0 failures, all times 0). Every write sets PEXPIRE 7 days.
 * closed: failures+1, lastFailureAt=now; failures >= threshold → state open, openedAt=now.
 * half_open (the probe failed): → open, openedAt=now, probeUntil=0, lastFailureAt=now, failures+1.
 * open: lastFailureAt=now, failures+1 (openedAt unchanged). Returns the new record.
 */
export const BREAKER_FAILURE: KvScript<BreakerRecord> = {
  name: 'breaker-failure',
  lua: `${BREAKER_LUA}
local now = tonumber(ARGV[1]) or 0
local threshold = tonumber(ARGV[2]) or 0
local r = loadBreaker(KEYS[1])
r.failures = r.failures + 1
r.lastFailureAt = now
if r.state == 'closed' then
  if r.failures >= threshold then
    r.state = 'open'
    r.openedAt = now
  end
elseif r.state == 'half_open' then
  r.state = 'open'
  r.openedAt = now
  r.probeUntil = 0
end
saveBreaker(KEYS[1], r)
return cjson.encode(r)
`,
  run(kv, keys, args) {
    const now = num(args[0]);
    const threshold = num(args[1]);
    const r = loadBreaker(kv, keys[0]);
    r.failures += 1;
    r.lastFailureAt = now;
    if (r.state === 'closed') {
      if (r.failures >= threshold) {
        r.state = 'open';
        r.openedAt = now;
      }
    } else if (r.state === 'half_open') {
      r.state = 'open';
      r.openedAt = now;
      r.probeUntil = 0;
    }
    saveBreaker(kv, keys[0], r);
    return r;
  },
};

/**
 * keys [breakerKey] args [now]. closed with failures 0 (or missing): no write, changed=false.
 * closed with failures>0 or half_open: → closed, failures 0, openedAt 0, probeUntil 0,
 * changed=true. open: unchanged (a late success from before it opened does not close it),
 * changed=false. Returns record + changed.
 */
export const BREAKER_SUCCESS: KvScript<BreakerRecord & { changed: boolean }> = {
  name: 'breaker-success',
  lua: `${BREAKER_LUA}
local r = loadBreaker(KEYS[1])
local changed = false
if r.state == 'half_open' or (r.state == 'closed' and r.failures > 0) then
  r.state = 'closed'
  r.failures = 0
  r.openedAt = 0
  r.probeUntil = 0
  saveBreaker(KEYS[1], r)
  changed = true
end
r.changed = changed
return cjson.encode(r)
`,
  run(kv, keys) {
    const r = loadBreaker(kv, keys[0]);
    let changed = false;
    if (r.state === 'half_open' || (r.state === 'closed' && r.failures > 0)) {
      r.state = 'closed';
      r.failures = 0;
      r.openedAt = 0;
      r.probeUntil = 0;
      saveBreaker(kv, keys[0], r);
      changed = true;
    }
    return { ...r, changed };
  },
};

/**
 * keys [breakerKey] args [now, resetTimeoutMs, probeTtlMs]. open and now-openedAt >=
 * resetTimeoutMs → half_open, probeUntil=now+probeTtlMs, granted=true. half_open and probeUntil
 * <= now (the probe was lost) → probeUntil=now+probeTtlMs, granted=true. Otherwise granted=false,
 * unchanged (closed → granted=false too: callers only probe open breakers).
 */
export const BREAKER_PROBE: KvScript<BreakerRecord & { granted: boolean }> = {
  name: 'breaker-probe',
  lua: `${BREAKER_LUA}
local now = tonumber(ARGV[1]) or 0
local resetTimeoutMs = tonumber(ARGV[2]) or 0
local probeTtlMs = tonumber(ARGV[3]) or 0
local r = loadBreaker(KEYS[1])
local granted = false
if (r.state == 'open' and now - r.openedAt >= resetTimeoutMs)
  or (r.state == 'half_open' and r.probeUntil <= now) then
  r.state = 'half_open'
  r.probeUntil = now + probeTtlMs
  saveBreaker(KEYS[1], r)
  granted = true
end
r.granted = granted
return cjson.encode(r)
`,
  run(kv, keys, args) {
    const now = num(args[0]);
    const resetTimeoutMs = num(args[1]);
    const probeTtlMs = num(args[2]);
    const r = loadBreaker(kv, keys[0]);
    let granted = false;
    if (
      (r.state === 'open' && now - r.openedAt >= resetTimeoutMs) ||
      (r.state === 'half_open' && r.probeUntil <= now)
    ) {
      r.state = 'half_open';
      r.probeUntil = now + probeTtlMs;
      saveBreaker(kv, keys[0], r);
      granted = true;
    }
    return { ...r, granted };
  },
};

// ---------------------------------------------------------------------------------------------
// Cooldowns: one hash, a CooldownRecord JSON per field.

/**
 * The cooldown a failure starts from the account's backoff `level` (COOLDOWN_FAILURE's rule, also
 * used by a replica whose store is unreachable): `fixed` keeps the level, `hint` (the upstream
 * said when) resets it, `backoff` is `baseMs × 2^level` and raises it (at most `maxSteps`).
 */
export function nextCooldown(
  level: number,
  now: number,
  mode: string,
  ms: number,
  baseMs: number,
  maxSteps: number,
  maxMs: number,
  what: { reason: string; status: number },
): CooldownRecord {
  let dur: number;
  let nextLevel: number;
  if (mode === 'fixed') {
    dur = ms;
    nextLevel = level;
  } else if (mode === 'hint') {
    dur = Math.min(ms, maxMs);
    nextLevel = 0;
  } else if (mode === 'backoff') {
    dur = Math.min(baseMs * 2 ** level, maxMs);
    nextLevel = Math.min(level + 1, maxSteps);
  } else {
    throw new Error(`ERR unknown cooldown mode: ${mode}`);
  }
  return { until: now + dur, level: nextLevel, reason: what.reason, status: what.status, at: now };
}

/**
 * keys [hashKey] args [field, now, reason, status, mode, ms, baseMs, maxSteps, maxMs]
 * The hash field holds CooldownRecord JSON. prev = current field value (may be missing).
 * If prev && prev.until > now: no change, return {...prev, extended:false} (concurrent failures
 * never extend a running cooldown).
 * level = prev?.level ?? 0. mode 'fixed': dur = ms, next level = level. mode 'hint': dur =
 * min(ms, maxMs), next level 0. mode 'backoff': dur = min(baseMs * 2^level, maxMs), next level =
 * min(level+1, maxSteps). Any other mode is an error.
 * Store {until: now+dur, level: next, reason, status, at: now}; return it with extended:true.
 */
export const COOLDOWN_FAILURE: KvScript<CooldownRecord & { extended: boolean }> = {
  name: 'cooldown-failure',
  lua: `
local field = ARGV[1]
local now = tonumber(ARGV[2]) or 0
local reason = ARGV[3]
local status = tonumber(ARGV[4]) or 0
local mode = ARGV[5]
local ms = tonumber(ARGV[6]) or 0
local baseMs = tonumber(ARGV[7]) or 0
local maxSteps = tonumber(ARGV[8]) or 0
local maxMs = tonumber(ARGV[9]) or 0
local prev = nil
local raw = redis.call('HGET', KEYS[1], field)
if raw then
  local ok, d = pcall(cjson.decode, raw)
  if ok and type(d) == 'table' then
    prev = {
      ['until'] = tonumber(d['until']) or 0,
      level = tonumber(d.level) or 0,
      reason = type(d.reason) == 'string' and d.reason or '',
      status = tonumber(d.status) or 0,
      at = tonumber(d.at) or 0,
    }
  end
end
if prev and prev['until'] > now then
  prev.extended = false
  return cjson.encode(prev)
end
local level = prev and prev.level or 0
local dur
local nextLevel
if mode == 'fixed' then
  dur = ms
  nextLevel = level
elseif mode == 'hint' then
  dur = math.min(ms, maxMs)
  nextLevel = 0
elseif mode == 'backoff' then
  dur = math.min(baseMs * 2 ^ level, maxMs)
  nextLevel = math.min(level + 1, maxSteps)
else
  return redis.error_reply('ERR unknown cooldown mode: ' .. tostring(mode))
end
local rec = { ['until'] = now + dur, level = nextLevel, reason = reason, status = status, at = now }
redis.call('HSET', KEYS[1], field, cjson.encode(rec))
rec.extended = true
return cjson.encode(rec)
`,
  run(kv, keys, args) {
    const [field, nowS, reason, statusS, mode, msS, baseMsS, maxStepsS, maxMsS] = args;
    const now = num(nowS);
    const ms = num(msS);
    const maxMs = num(maxMsS);
    const d = decode(kv.hget(keys[0], field));
    const prev: CooldownRecord | undefined = d && {
      until: numField(d.until),
      level: numField(d.level),
      reason: typeof d.reason === 'string' ? d.reason : '',
      status: numField(d.status),
      at: numField(d.at),
    };
    if (prev && prev.until > now) {
      return { ...prev, extended: false };
    }
    const rec = nextCooldown(prev?.level ?? 0, now, mode, ms, num(baseMsS), num(maxStepsS), maxMs, {
      reason: reason ?? '',
      status: num(statusS),
    });
    kv.hset(keys[0], field, JSON.stringify(rec));
    return { ...rec, extended: true };
  },
};

// ---------------------------------------------------------------------------------------------
// Rate limits: a sliding window approximated by two fixed windows.

/**
 * Sliding-window (two fixed windows, previous one weighted) request/token limiter.
 * keys [reqCur, reqPrev, tokCur, tokPrev] (the caller names them per window index
 * floor(now/windowMs)) args [now, windowMs, rpm, tpm] (0 = no limit).
 * elapsed = now mod windowMs; w = 1 - elapsed/windowMs; requests = prevReq*w + curReq;
 * tokens = prevTok*w + curTok.
 * If rpm>0 and requests + 1 > rpm → allowed=false, retryAfterMs = smallest integer t>0 after which
 * prevReq*(1-(elapsed+t)/windowMs)+curReq+1 <= rpm, or windowMs-elapsed when curReq+1 > rpm (so
 * never more than windowMs-elapsed);
 * else if tpm>0 and tokens >= tpm → allowed=false, retryAfterMs the same way for tokens (condition
 * prevTok*w'+curTok < tpm), or windowMs-elapsed when curTok >= tpm.
 * else allowed=true: INCR reqCur, PEXPIRE reqCur 2*windowMs. Returns {allowed, retryAfterMs (0
 * when allowed), requests (after the increment when allowed, floored), tokens (floored)}.
 * retryAfterMs is solved in closed form, then checked (and nudged by 1 ms where rounding makes
 * it miss) with the very floating-point expression that a call at now+t evaluates, so a retry
 * after exactly retryAfterMs is allowed (when it stays in the same window).
 * Token counts are added by the caller separately with incrBy(tokCur, n, 2*windowMs).
 * windowMs must be positive.
 */
export const RATE_ACQUIRE: KvScript<{
  allowed: boolean;
  retryAfterMs: number;
  requests: number;
  tokens: number;
}> = {
  name: 'rate-acquire',
  lua: `
local now = tonumber(ARGV[1]) or 0
local win = tonumber(ARGV[2]) or 0
local rpm = tonumber(ARGV[3]) or 0
local tpm = tonumber(ARGV[4]) or 0
if win <= 0 then
  return redis.error_reply('ERR windowMs must be positive')
end
local curReq = tonumber(redis.call('GET', KEYS[1])) or 0
local prevReq = tonumber(redis.call('GET', KEYS[2])) or 0
local curTok = tonumber(redis.call('GET', KEYS[3])) or 0
local prevTok = tonumber(redis.call('GET', KEYS[4])) or 0
local elapsed = now % win
local left = win - elapsed
local w = 1 - elapsed / win
local requests = prevReq * w + curReq
local tokens = prevTok * w + curTok
-- The smallest t in [1, left] for which ok(t) holds, starting from the exact solution and then
-- checked with the same floating-point expression a later call will evaluate (ok(left) holds).
local function fit(t, ok)
  t = math.max(1, math.min(left, t))
  while t < left and not ok(t) do
    t = t + 1
  end
  while t > 1 and ok(t - 1) do
    t = t - 1
  end
  return t
end
local retry = 0
if rpm > 0 and requests + 1 > rpm then
  retry = left
  if curReq + 1 <= rpm then
    local slack = rpm - curReq - 1
    retry = fit(math.ceil(win * (prevReq - slack) / prevReq) - elapsed, function(t)
      return prevReq * (1 - (elapsed + t) / win) + curReq + 1 <= rpm
    end)
  end
elseif tpm > 0 and tokens >= tpm then
  retry = left
  if curTok < tpm then
    local slack = tpm - curTok
    retry = fit(math.floor(win * (prevTok - slack) / prevTok) + 1 - elapsed, function(t)
      return prevTok * (1 - (elapsed + t) / win) + curTok < tpm
    end)
  end
end
if retry > 0 then
  return cjson.encode({
    allowed = false,
    retryAfterMs = retry,
    requests = math.floor(requests),
    tokens = math.floor(tokens),
  })
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], win * 2)
return cjson.encode({
  allowed = true,
  retryAfterMs = 0,
  requests = math.floor(requests + 1),
  tokens = math.floor(tokens),
})
`,
  run(kv, keys, args) {
    const now = num(args[0]);
    const win = num(args[1]);
    const rpm = num(args[2]);
    const tpm = num(args[3]);
    if (win <= 0) {
      throw new Error('ERR windowMs must be positive');
    }
    const curReq = num(kv.get(keys[0]));
    const prevReq = num(kv.get(keys[1]));
    const curTok = num(kv.get(keys[2]));
    const prevTok = num(kv.get(keys[3]));
    const elapsed = now % win;
    const left = win - elapsed;
    const w = 1 - elapsed / win;
    const requests = prevReq * w + curReq;
    const tokens = prevTok * w + curTok;
    const fit = (t: number, ok: (t: number) => boolean): number => {
      let r = Math.max(1, Math.min(left, t));
      while (r < left && !ok(r)) {
        r++;
      }
      while (r > 1 && ok(r - 1)) {
        r--;
      }
      return r;
    };
    let retry = 0;
    if (rpm > 0 && requests + 1 > rpm) {
      retry = left;
      if (curReq + 1 <= rpm) {
        const slack = rpm - curReq - 1;
        retry = fit(
          Math.ceil((win * (prevReq - slack)) / prevReq) - elapsed,
          (t) => prevReq * (1 - (elapsed + t) / win) + curReq + 1 <= rpm,
        );
      }
    } else if (tpm > 0 && tokens >= tpm) {
      retry = left;
      if (curTok < tpm) {
        const slack = tpm - curTok;
        retry = fit(
          Math.floor((win * (prevTok - slack)) / prevTok) + 1 - elapsed,
          (t) => prevTok * (1 - (elapsed + t) / win) + curTok < tpm,
        );
      }
    }
    if (retry > 0) {
      return {
        allowed: false,
        retryAfterMs: retry,
        requests: Math.floor(requests),
        tokens: Math.floor(tokens),
      };
    }
    kv.incrBy(keys[0], 1);
    kv.pexpire(keys[0], win * 2);
    return {
      allowed: true,
      retryAfterMs: 0,
      requests: Math.floor(requests + 1),
      tokens: Math.floor(tokens),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Account picks.

/**
 * keys [hashKey] args [...fields] (at least one). Picks the field with the smallest numeric value
 * (missing = 0; ties → lowest index), HINCRBY it by 1. Returns {index, counts} where counts are
 * the values BEFORE the increment, in args order.
 */
export const PICK_LEAST_USED: KvScript<{ index: number; counts: number[] }> = {
  name: 'pick-least-used',
  lua: `
if #ARGV == 0 then
  return redis.error_reply('ERR pick-least-used needs at least one field')
end
local counts = {}
local best = 1
for i = 1, #ARGV do
  counts[i] = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0
  if counts[i] < counts[best] then
    best = i
  end
end
redis.call('HINCRBY', KEYS[1], ARGV[best], 1)
return cjson.encode({ index = best - 1, counts = counts })
`,
  run(kv, keys, args) {
    if (args.length === 0) {
      throw new Error('ERR pick-least-used needs at least one field');
    }
    const counts = args.map((f) => num(kv.hget(keys[0], f)));
    const index = argmin(counts);
    kv.hincrBy(keys[0], args[index], 1);
    return { index, counts };
  },
};

/**
 * keys [hashKey] args [now, ...fields] (at least one field). Picks the field with the smallest
 * value (missing = 0 = never used; ties → lowest index), HSET it to now. Returns {index} (into
 * the fields, 0-based).
 */
export const PICK_LRU: KvScript<{ index: number }> = {
  name: 'pick-lru',
  lua: `
if #ARGV < 2 then
  return redis.error_reply('ERR pick-lru needs at least one field')
end
local best = 2
local bestAt = tonumber(redis.call('HGET', KEYS[1], ARGV[2])) or 0
for i = 3, #ARGV do
  local at = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0
  if at < bestAt then
    best = i
    bestAt = at
  end
end
redis.call('HSET', KEYS[1], ARGV[best], ARGV[1])
return cjson.encode({ index = best - 2 })
`,
  run(kv, keys, args) {
    const [now, ...fields] = args;
    if (fields.length === 0) {
      throw new Error('ERR pick-lru needs at least one field');
    }
    const index = argmin(fields.map((f) => num(kv.hget(keys[0], f))));
    kv.hset(keys[0], fields[index], now);
    return { index };
  },
};

// ---------------------------------------------------------------------------------------------
// Latency statistics.

/**
 * keys [hashKey] args [field, avgMs, count, alpha]. The field holds JSON {ewmaMs, n}. Missing (or
 * unreadable) → ewmaMs = avgMs, n = count. Else a = 1-(1-alpha)^count (the weight of `count`
 * samples averaging avgMs); ewmaMs = old*(1-a) + avgMs*a; n += count. No `at` is stored. ewmaMs is
 * rounded to 14 significant digits (what cjson keeps). Returns {ewmaMs, n}.
 */
export const LATENCY_MERGE: KvScript<{ ewmaMs: number; n: number }> = {
  name: 'latency-merge',
  lua: `
local field = ARGV[1]
local avg = tonumber(ARGV[2]) or 0
local count = tonumber(ARGV[3]) or 0
local alpha = tonumber(ARGV[4]) or 0
local ewma = avg
local n = count
local raw = redis.call('HGET', KEYS[1], field)
if raw then
  local ok, d = pcall(cjson.decode, raw)
  if ok and type(d) == 'table' then
    local a = 1 - (1 - alpha) ^ count
    ewma = (tonumber(d.ewmaMs) or 0) * (1 - a) + avg * a
    n = (tonumber(d.n) or 0) + count
  end
end
local rec = cjson.encode({ ewmaMs = ewma, n = n })
redis.call('HSET', KEYS[1], field, rec)
return rec
`,
  run(kv, keys, args) {
    const field = args[0];
    const avg = num(args[1]);
    const count = num(args[2]);
    const alpha = num(args[3]);
    let ewma = avg;
    let n = count;
    const d = decode(kv.hget(keys[0], field));
    if (d) {
      const a = 1 - (1 - alpha) ** count;
      ewma = numField(d.ewmaMs) * (1 - a) + avg * a;
      n = numField(d.n) + count;
    }
    const rec = { ewmaMs: g14(ewma), n: g14(n) };
    kv.hset(keys[0], field, JSON.stringify(rec));
    return rec;
  },
};
