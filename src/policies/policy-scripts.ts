import type { KvScript, SyncKv } from '@/common/kv/kv-store';

/**
 * The per-key policy's atomic read-modify-writes, each written twice with the same semantics: Lua
 * for Redis and a JavaScript twin for the in-process store (`policy-scripts.contract.ts` holds
 * both to the same expectations). Times are ms epoch numbers passed as arguments, so the scripts
 * never read a clock; arguments arrive as strings. Money is in integer micro-dollars (no float
 * drift); tokens and counts are integers.
 *
 * Keys (see `windows.ts` `policyKeys`):
 * - rpm / tpm: a hash second → requests / tokens. The last minute is the buckets with
 *   second ≥ now_s − 60 (61 buckets), so no rolling 60 s ever holds more than the limit; older
 *   fields are dropped as they are read. PX 120 s.
 * - rpd: a counter per UTC day, PX until the day ends + 1 min.
 * - budget: a hash per window: `spent`, `reserved` (micro-USD), `limit`, `warn` (the warning
 *   mark), `sweepAt` (the earliest reservation expiry) and one field `r:<reservationId>` =
 *   `<micros>:<expiresAt>` per reservation not yet settled. A reservation never settled (crash)
 *   is released by the first admission after it expired (the sweep).
 * - spend (day / month): a hash `spent`, `n` for reporting.
 */

/** The seconds a request counts in the per-minute windows (see above). */
const WINDOW_S = 60;
const MINUTE_KEEP_MS = 120_000;

export type PolicyReason = 'rpm' | 'rpd' | 'tpm' | 'budget';

export interface AdmitResult {
  ok: boolean;
  /** '' when ok. */
  reason: PolicyReason | '';
  /** When the refused limit lets this request in (0 when ok). */
  retryAfterMs: number;
  /** The refused counter's value (requests or tokens in the window); 0 when ok or budget. */
  used: number;
  /** Budget window figures (micro-USD) before this request; 0 without a budget. */
  spent: number;
  reserved: number;
}

export interface SettleResult {
  /** The budget window's spend after this settle (micro-USD); 0 without a budget key. */
  spent: number;
  limit: number;
  /** This settle took the spend across the warning mark. */
  crossed: boolean;
  /** The reservation was still held (not swept as expired) and was released. */
  released: boolean;
}

// ---------------------------------------------------------------------------------------------
// JavaScript helpers (mirroring the Lua)

/** `tonumber(s) or 0`. */
function num(s: string | null | undefined): number {
  if (s === null || s === undefined || s.trim() === '') {
    return 0;
  }
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

/** `tonumber(s)`: undefined when missing or not a number. */
function toNumber(s: string | null | undefined): number | undefined {
  if (s === null || s === undefined || s.trim() === '') {
    return undefined;
  }
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Drops buckets older than the window; returns the total and the live buckets by second. */
function window(kv: SyncKv, key: string, sec: number): { total: number; list: [number, number][] } {
  let total = 0;
  const list: [number, number][] = [];
  for (const [field, value] of Object.entries(kv.hgetall(key))) {
    const b = toNumber(field);
    if (b === undefined || b < sec - WINDOW_S) {
      kv.hdel(key, field);
    } else {
      const v = num(value);
      total += v;
      list.push([b, v]);
    }
  }
  list.sort((x, y) => x[0] - y[0]);
  return { total, list };
}

/** How long until enough buckets leave the window for `fits(what is left)` to hold. */
function waitFor(
  list: readonly [number, number][],
  total: number,
  now: number,
  fits: (left: number) => boolean,
): number {
  let left = total;
  for (const [b, v] of list) {
    left -= v;
    if (fits(left)) {
      return Math.max(1, (b + WINDOW_S + 1) * 1000 - now);
    }
  }
  return 1000;
}

/** `<micros>:<expiresAt>` → [micros, expiresAt]; undefined when unreadable. */
function parseReservation(v: string): [number, number] | undefined {
  const sep = v.indexOf(':');
  if (sep < 0) {
    return undefined;
  }
  return [num(v.slice(0, sep)), num(v.slice(sep + 1))];
}

/** Releases the budget's expired reservations (when one may have expired). */
function sweep(kv: SyncKv, key: string, now: number): void {
  const at = toNumber(kv.hget(key, 'sweepAt'));
  if (at === undefined || now < at) {
    return;
  }
  let freed = 0;
  let minExp: number | undefined;
  for (const [field, value] of Object.entries(kv.hgetall(key))) {
    if (!field.startsWith('r:')) {
      continue;
    }
    const r = parseReservation(value);
    if (!r || r[1] <= now) {
      kv.hdel(key, field);
      freed += r ? r[0] : 0;
    } else if (minExp === undefined || r[1] < minExp) {
      minExp = r[1];
    }
  }
  if (freed > 0) {
    kv.hincrBy(key, 'reserved', -freed);
  }
  if (minExp !== undefined) {
    kv.hset(key, 'sweepAt', String(minExp));
  } else {
    kv.hdel(key, 'sweepAt');
  }
}

/** The keys by kind letter (`kinds` names each key in order). */
function keysByKind(kinds: string, keys: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (let i = 0; i < kinds.length; i++) {
    out[kinds[i]] = keys[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const HELPERS_LUA = `
local function window(key, sec)
  local all = redis.call('HGETALL', key)
  local list = {}
  local total = 0
  for i = 1, #all, 2 do
    local b = tonumber(all[i])
    if b == nil or b < sec - ${WINDOW_S} then
      redis.call('HDEL', key, all[i])
    else
      local v = tonumber(all[i + 1]) or 0
      total = total + v
      list[#list + 1] = { b, v }
    end
  end
  table.sort(list, function(x, y) return x[1] < y[1] end)
  return total, list
end
local function waitFor(list, total, now, fits)
  local left = total
  for _, e in ipairs(list) do
    left = left - e[2]
    if fits(left) then
      return math.max(1, (e[1] + ${WINDOW_S + 1}) * 1000 - now)
    end
  end
  return 1000
end
local function byKind(kinds)
  local out = {}
  for i = 1, #kinds do
    out[string.sub(kinds, i, i)] = KEYS[i]
  end
  return out
end
local function parseReservation(v)
  local sep = string.find(v, ':', 1, true)
  if not sep then
    return nil
  end
  return tonumber(string.sub(v, 1, sep - 1)) or 0, tonumber(string.sub(v, sep + 1)) or 0
end
`;

/**
 * keys: one per letter of `kinds` (args[1]), in order — m: rpm hash, d: rpd counter, t: tpm hash,
 * b: budget hash. args [now, kinds, rpm, rpd, rpdResetAt, tpm, tokens, limitMicros, estMicros,
 * reservationId, reservationExpiresAt, budgetResetAt, budgetKeepMs, warnMicros].
 *
 * Checks in order, each only when its key is given; the first that fails answers {ok:false,
 * reason, retryAfterMs} and nothing is counted (old buckets and expired reservations may have
 * been dropped):
 * - rpm: requests in the window + 1 > rpm → wait until enough buckets leave.
 * - rpd: today's count + 1 > rpd → wait until rpdResetAt.
 * - tpm: tokens in the window > 0 and + tokens > tpm → wait until the window is empty or the
 *   estimate fits (an empty window always admits one request, however large).
 * - budget: expired reservations released; spent + reserved + estMicros > limitMicros → wait 1 s
 *   when only in-flight reservations are in the way (spent + est ≤ limit), else until
 *   budgetResetAt.
 * All passed: rpm bucket +1, rpd +1, tpm bucket + tokens, reservation `r:<id>` = est:expiresAt,
 * reserved + est, sweepAt = min(sweepAt, expiresAt), limit and warn written, budget PX keep.
 */
export const POLICY_ADMIT: KvScript<AdmitResult> = {
  name: 'policy-admit',
  lua: `${HELPERS_LUA}
local now = tonumber(ARGV[1]) or 0
local k = byKind(ARGV[2])
local rpm = tonumber(ARGV[3]) or 0
local rpd = tonumber(ARGV[4]) or 0
local rpdReset = tonumber(ARGV[5]) or 0
local tpm = tonumber(ARGV[6]) or 0
local tokens = tonumber(ARGV[7]) or 0
local limit = tonumber(ARGV[8]) or 0
local est = tonumber(ARGV[9]) or 0
local rid = ARGV[10]
local rexp = tonumber(ARGV[11]) or 0
local budgetReset = tonumber(ARGV[12]) or 0
local keep = tonumber(ARGV[13]) or 0
local sec = math.floor(now / 1000)
local function refuse(reason, retry, used, spent, reserved)
  return cjson.encode({
    ok = false, reason = reason, retryAfterMs = retry, used = used, spent = spent,
    reserved = reserved,
  })
end
if k.m then
  local total, list = window(k.m, sec)
  if total + 1 > rpm then
    return refuse('rpm', waitFor(list, total, now, function(left) return left + 1 <= rpm end),
      total, 0, 0)
  end
end
if k.d then
  local n = tonumber(redis.call('GET', k.d)) or 0
  if n + 1 > rpd then
    return refuse('rpd', math.max(1, rpdReset - now), n, 0, 0)
  end
end
if k.t then
  local total, list = window(k.t, sec)
  if total > 0 and total + tokens > tpm then
    return refuse('tpm', waitFor(list, total, now, function(left)
      return left <= 0 or left + tokens <= tpm
    end), total, 0, 0)
  end
end
local spent = 0
local reserved = 0
if k.b then
  local at = tonumber(redis.call('HGET', k.b, 'sweepAt'))
  if at ~= nil and now >= at then
    local all = redis.call('HGETALL', k.b)
    local freed = 0
    local minExp = nil
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'r:' then
        local m, e = parseReservation(all[i + 1])
        if m == nil or e <= now then
          redis.call('HDEL', k.b, all[i])
          freed = freed + (m or 0)
        elseif minExp == nil or e < minExp then
          minExp = e
        end
      end
    end
    if freed > 0 then
      redis.call('HINCRBY', k.b, 'reserved', string.format('%d', -freed))
    end
    if minExp ~= nil then
      redis.call('HSET', k.b, 'sweepAt', string.format('%d', minExp))
    else
      redis.call('HDEL', k.b, 'sweepAt')
    end
  end
  spent = tonumber(redis.call('HGET', k.b, 'spent')) or 0
  reserved = math.max(0, tonumber(redis.call('HGET', k.b, 'reserved')) or 0)
  if spent + reserved + est > limit then
    local retry = math.max(1, budgetReset - now)
    if spent + est <= limit then
      retry = 1000
    end
    return refuse('budget', retry, 0, spent, reserved)
  end
end
if k.m then
  redis.call('HINCRBY', k.m, string.format('%d', sec), 1)
  redis.call('PEXPIRE', k.m, ${MINUTE_KEEP_MS})
end
if k.d then
  redis.call('INCR', k.d)
  redis.call('PEXPIRE', k.d, string.format('%d', math.max(1, rpdReset - now + 60000)))
end
if k.t and tokens > 0 then
  redis.call('HINCRBY', k.t, string.format('%d', sec), ARGV[7])
  redis.call('PEXPIRE', k.t, ${MINUTE_KEEP_MS})
end
if k.b then
  redis.call('HSET', k.b, 'r:' .. rid, ARGV[9] .. ':' .. ARGV[11])
  redis.call('HINCRBY', k.b, 'reserved', ARGV[9])
  local at = tonumber(redis.call('HGET', k.b, 'sweepAt'))
  if at == nil or rexp < at then
    redis.call('HSET', k.b, 'sweepAt', ARGV[11])
  end
  redis.call('HSET', k.b, 'limit', ARGV[8])
  redis.call('HSET', k.b, 'warn', ARGV[14])
  if keep > 0 then
    redis.call('PEXPIRE', k.b, ARGV[13])
  end
end
return cjson.encode({
  ok = true, reason = '', retryAfterMs = 0, used = 0, spent = spent, reserved = reserved,
})
`,
  run(kv, keys, args) {
    const now = num(args[0]);
    const k = keysByKind(args[1], keys);
    const rpm = num(args[2]);
    const rpd = num(args[3]);
    const rpdReset = num(args[4]);
    const tpm = num(args[5]);
    const tokens = num(args[6]);
    const limit = num(args[7]);
    const est = num(args[8]);
    const rexp = num(args[10]);
    const budgetReset = num(args[11]);
    const keep = num(args[12]);
    const sec = Math.floor(now / 1000);
    const refuse = (
      reason: PolicyReason,
      retryAfterMs: number,
      used: number,
      spent: number,
      reserved: number,
    ): AdmitResult => ({ ok: false, reason, retryAfterMs, used, spent, reserved });
    if (k.m) {
      const { total, list } = window(kv, k.m, sec);
      if (total + 1 > rpm) {
        return refuse(
          'rpm',
          waitFor(list, total, now, (left) => left + 1 <= rpm),
          total,
          0,
          0,
        );
      }
    }
    if (k.d) {
      const n = num(kv.get(k.d));
      if (n + 1 > rpd) {
        return refuse('rpd', Math.max(1, rpdReset - now), n, 0, 0);
      }
    }
    if (k.t) {
      const { total, list } = window(kv, k.t, sec);
      if (total > 0 && total + tokens > tpm) {
        return refuse(
          'tpm',
          waitFor(list, total, now, (left) => left <= 0 || left + tokens <= tpm),
          total,
          0,
          0,
        );
      }
    }
    let spent = 0;
    let reserved = 0;
    if (k.b) {
      sweep(kv, k.b, now);
      spent = num(kv.hget(k.b, 'spent'));
      reserved = Math.max(0, num(kv.hget(k.b, 'reserved')));
      if (spent + reserved + est > limit) {
        const retry = spent + est <= limit ? 1000 : Math.max(1, budgetReset - now);
        return refuse('budget', retry, 0, spent, reserved);
      }
    }
    if (k.m) {
      kv.hincrBy(k.m, String(sec), 1);
      kv.pexpire(k.m, MINUTE_KEEP_MS);
    }
    if (k.d) {
      kv.incrBy(k.d, 1);
      kv.pexpire(k.d, Math.max(1, rpdReset - now + 60_000));
    }
    if (k.t && tokens > 0) {
      kv.hincrBy(k.t, String(sec), tokens);
      kv.pexpire(k.t, MINUTE_KEEP_MS);
    }
    if (k.b) {
      kv.hset(k.b, `r:${args[9]}`, `${args[8]}:${args[10]}`);
      kv.hincrBy(k.b, 'reserved', est);
      const at = toNumber(kv.hget(k.b, 'sweepAt'));
      if (at === undefined || rexp < at) {
        kv.hset(k.b, 'sweepAt', args[10]);
      }
      kv.hset(k.b, 'limit', args[7]);
      kv.hset(k.b, 'warn', args[13]);
      if (keep > 0) {
        kv.pexpire(k.b, keep);
      }
    }
    return { ok: true, reason: '', retryAfterMs: 0, used: 0, spent, reserved };
  },
};

/**
 * keys: one per letter of `kinds` (args[1]) — t: tpm hash, b: budget hash, d: day spend, m:
 * month spend. args [now, kinds, reservationId, estMicros, actualMicros, estTokens,
 * actualTokens, admitSecond, keepMs per key (in key order)].
 *
 * - t: the estimate leaves the admission's bucket (when still there; a bucket never goes below
 *   0) and the actual tokens join the current second's bucket (PX 120 s).
 * - b: when `r:<id>` is still held: deleted and `reserved` − est (never below 0) → released; then
 *   `spent` + actual. crossed = spent went from below `warn` to at least it (warn > 0).
 * - d, m: `spent` + actual, `n` + 1.
 * Each of b, d, m gets PX keepMs when keepMs > 0. Returns {spent, limit, crossed, released}.
 */
export const POLICY_SETTLE: KvScript<SettleResult> = {
  name: 'policy-settle',
  lua: `${HELPERS_LUA}
local now = tonumber(ARGV[1]) or 0
local kinds = ARGV[2]
local k = byKind(kinds)
local rid = ARGV[3]
local est = tonumber(ARGV[4]) or 0
local actual = tonumber(ARGV[5]) or 0
local estTok = tonumber(ARGV[6]) or 0
local actTok = tonumber(ARGV[7]) or 0
local admitSec = ARGV[8]
local keep = {}
for i = 1, #kinds do
  keep[string.sub(kinds, i, i)] = tonumber(ARGV[8 + i]) or 0
end
local result = { spent = 0, limit = 0, crossed = false, released = false }
if k.t then
  if estTok > 0 then
    local v = tonumber(redis.call('HGET', k.t, admitSec))
    if v ~= nil then
      if v - estTok > 0 then
        redis.call('HSET', k.t, admitSec, string.format('%d', v - estTok))
      else
        redis.call('HDEL', k.t, admitSec)
      end
    end
  end
  if actTok > 0 then
    redis.call('HINCRBY', k.t, string.format('%d', math.floor(now / 1000)), ARGV[7])
    redis.call('PEXPIRE', k.t, ${MINUTE_KEEP_MS})
  end
end
if k.b then
  if redis.call('HGET', k.b, 'r:' .. rid) then
    redis.call('HDEL', k.b, 'r:' .. rid)
    if redis.call('HINCRBY', k.b, 'reserved', string.format('%d', -est)) < 0 then
      redis.call('HSET', k.b, 'reserved', '0')
    end
    result.released = true
  end
  local before = tonumber(redis.call('HGET', k.b, 'spent')) or 0
  local after = redis.call('HINCRBY', k.b, 'spent', ARGV[5])
  local warn = tonumber(redis.call('HGET', k.b, 'warn')) or 0
  result.spent = after
  result.limit = tonumber(redis.call('HGET', k.b, 'limit')) or 0
  result.crossed = warn > 0 and before < warn and after >= warn
  if keep.b > 0 then
    redis.call('PEXPIRE', k.b, string.format('%d', keep.b))
  end
end
for _, kind in ipairs({ 'd', 'm' }) do
  if k[kind] then
    redis.call('HINCRBY', k[kind], 'spent', ARGV[5])
    redis.call('HINCRBY', k[kind], 'n', 1)
    if keep[kind] > 0 then
      redis.call('PEXPIRE', k[kind], string.format('%d', keep[kind]))
    end
  end
end
return cjson.encode(result)
`,
  run(kv, keys, args) {
    const now = num(args[0]);
    const kinds = args[1];
    const k = keysByKind(kinds, keys);
    const rid = args[2];
    const est = num(args[3]);
    const actual = num(args[4]);
    const estTok = num(args[5]);
    const actTok = num(args[6]);
    const admitSec = args[7];
    const keep: Record<string, number> = {};
    for (let i = 0; i < kinds.length; i++) {
      keep[kinds[i]] = num(args[8 + i]);
    }
    const result: SettleResult = { spent: 0, limit: 0, crossed: false, released: false };
    if (k.t) {
      if (estTok > 0) {
        const v = toNumber(kv.hget(k.t, admitSec));
        if (v !== undefined) {
          if (v - estTok > 0) {
            kv.hset(k.t, admitSec, String(v - estTok));
          } else {
            kv.hdel(k.t, admitSec);
          }
        }
      }
      if (actTok > 0) {
        kv.hincrBy(k.t, String(Math.floor(now / 1000)), actTok);
        kv.pexpire(k.t, MINUTE_KEEP_MS);
      }
    }
    if (k.b) {
      if (kv.hget(k.b, `r:${rid}`) !== null) {
        kv.hdel(k.b, `r:${rid}`);
        if (kv.hincrBy(k.b, 'reserved', -est) < 0) {
          kv.hset(k.b, 'reserved', '0');
        }
        result.released = true;
      }
      const before = num(kv.hget(k.b, 'spent'));
      const after = kv.hincrBy(k.b, 'spent', actual);
      const warn = num(kv.hget(k.b, 'warn'));
      result.spent = after;
      result.limit = num(kv.hget(k.b, 'limit'));
      result.crossed = warn > 0 && before < warn && after >= warn;
      if (keep.b > 0) {
        kv.pexpire(k.b, keep.b);
      }
    }
    for (const kind of ['d', 'm']) {
      const key = k[kind];
      if (key) {
        kv.hincrBy(key, 'spent', actual);
        kv.hincrBy(key, 'n', 1);
        if (keep[kind] > 0) {
          kv.pexpire(key, keep[kind]);
        }
      }
    }
    return result;
  },
};
