import type { KvScript, SyncKv } from '@/common/kv/kv-store';

/**
 * The sessions module's atomic read-modify-writes, each written twice with the same semantics:
 * Lua for Redis and a JavaScript twin for the in-process store (`session-scripts.contract.ts`
 * holds both to the same expectations). Times are ms epoch numbers passed as arguments, so the
 * scripts never read a clock; arguments arrive as strings.
 *
 * Keys: the session record `sess:<id>` (SessionRecord JSON, PX = the idle TTL), the active set
 * of one API key `sess:key:<apiKeyId|anon>` (a hash sessionId → lastActive ms) and the index
 * `sess:keys` (a hash apiKeyId|anon → when that key's set was last pruned) that lets a listing
 * find every set.
 *
 * Lua notes: GET/HGET answer `false` for a missing key (`tonumber(false)` is nil); a JSON null
 * decodes to `cjson.null`, which is not a string; cjson writes numbers with 14 significant
 * digits, enough for ms timestamps.
 */

export interface SessionRecord {
  sessionId: string;
  /** The key of the latest request (null: anonymous). */
  apiKeyId: string | null;
  createdAt: number;
  lastActive: number;
  requestCount: number;
  /** The connection that last served it (sticky affinity). */
  connectionId: string | null;
  source: string;
}

export interface TouchResult {
  ok: boolean;
  /** The session was not in the key's active set (it was added, or refused). */
  isNew: boolean;
  /** Sessions in the key's active set afterwards (may include a few stale ones between prunes). */
  active: number;
}

// ---------------------------------------------------------------------------------------------
// JavaScript helpers (mirroring the Lua)

/** `tonumber(s)`: undefined when missing or not a number. */
function toNumber(s: string | null | undefined): number | undefined {
  if (s === null || s === undefined || s.trim() === '') {
    return undefined;
  }
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function num(s: string | null | undefined): number {
  return toNumber(s) ?? 0;
}

function numField(v: unknown): number | undefined {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : undefined;
  }
  return typeof v === 'string' ? toNumber(v) : undefined;
}

function decode(raw: string | null): Record<string, unknown> | undefined {
  if (raw === null) {
    return undefined;
  }
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Drops the set's fields idle for `ttl` or longer; returns the live ones (sessionId → at). */
function pruneSet(kv: SyncKv, set: string, now: number, ttl: number): Record<string, number> {
  const live: Record<string, number> = {};
  for (const [sid, at] of Object.entries(kv.hgetall(set))) {
    const t = num(at);
    if (now - t >= ttl) {
      kv.hdel(set, sid);
    } else {
      live[sid] = t;
    }
  }
  return live;
}

// ---------------------------------------------------------------------------------------------

const PRUNE_LUA = `
local function pruneSet(set, now, ttl)
  local all = redis.call('HGETALL', set)
  local live = {}
  local n = 0
  for i = 1, #all, 2 do
    local at = tonumber(all[i + 1]) or 0
    if now - at >= ttl then
      redis.call('HDEL', set, all[i])
    else
      live[all[i]] = at
      n = n + 1
    end
  end
  return live, n
end
`;

/**
 * keys [record, set, index] args [sessionId, now, ttlMs, maxSessions (0 = unlimited), apiKeyId
 * ('' = anonymous), source, indexField, pruneEveryMs, requests (optional, default 1: how many
 * requests this touch stands for; a replica coalesces its touches)].
 *
 * 1. When the index's stamp for indexField is missing or pruneEveryMs old: prune the set (drop
 *    fields with now - at >= ttl) and stamp the index with now.
 * 2. The session is existing when its field is in the set and now - at < ttl (a stale field is
 *    dropped). A new session with maxSessions > 0: count = HLEN(set); when count >= max and the
 *    set was not pruned in step 1, prune and recount; still >= max → {ok:false, isNew:true,
 *    active:count}, nothing else written.
 * 3. HSET set sessionId now; PEXPIRE set and index ttl.
 * 4. The record is kept when readable (an object with a string sessionId) and now - lastActive <
 *    ttl, else started afresh (createdAt now, requestCount 0, connectionId null); then
 *    requestCount+1, lastActive now, apiKeyId, source; SET with PX ttl.
 *    Returns {ok:true, isNew, active: HLEN(set)}.
 */
export const SESSION_TOUCH: KvScript<TouchResult> = {
  name: 'session-touch',
  lua: `${PRUNE_LUA}
local sid = ARGV[1]
local now = tonumber(ARGV[2]) or 0
local ttl = tonumber(ARGV[3]) or 0
local max = tonumber(ARGV[4]) or 0
local apiKeyId = ARGV[5]
local source = ARGV[6]
local field = ARGV[7]
local pruneEvery = tonumber(ARGV[8]) or 0
local inc = tonumber(ARGV[9]) or 1
local pruned = false
local stamp = tonumber(redis.call('HGET', KEYS[3], field))
if stamp == nil or now - stamp >= pruneEvery then
  pruneSet(KEYS[2], now, ttl)
  redis.call('HSET', KEYS[3], field, ARGV[2])
  pruned = true
end
local at = tonumber(redis.call('HGET', KEYS[2], sid))
local existing = at ~= nil and now - at < ttl
if at ~= nil and not existing then
  redis.call('HDEL', KEYS[2], sid)
end
if not existing and max > 0 then
  local count = redis.call('HLEN', KEYS[2])
  if count >= max and not pruned then
    local _, n = pruneSet(KEYS[2], now, ttl)
    redis.call('HSET', KEYS[3], field, ARGV[2])
    count = n
  end
  if count >= max then
    return cjson.encode({ ok = false, isNew = true, active = count })
  end
end
redis.call('HSET', KEYS[2], sid, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
local prev = nil
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, d = pcall(cjson.decode, raw)
  if ok and type(d) == 'table' and type(d.sessionId) == 'string'
    and now - (tonumber(d.lastActive) or 0) < ttl then
    prev = d
  end
end
local rec = {
  sessionId = sid,
  apiKeyId = cjson.null,
  createdAt = now,
  lastActive = now,
  requestCount = inc,
  connectionId = cjson.null,
  source = source,
}
if apiKeyId ~= '' then
  rec.apiKeyId = apiKeyId
end
if prev then
  rec.createdAt = tonumber(prev.createdAt) or now
  rec.requestCount = (tonumber(prev.requestCount) or 0) + inc
  if type(prev.connectionId) == 'string' then
    rec.connectionId = prev.connectionId
  end
end
redis.call('SET', KEYS[1], cjson.encode(rec), 'PX', ttl)
return cjson.encode({ ok = true, isNew = not existing, active = redis.call('HLEN', KEYS[2]) })
`,
  run(kv, keys, args) {
    const [record, set, index] = keys;
    const [sid, nowS, ttlS, maxS, apiKeyId, source, field, pruneEveryS, incS] = args;
    const inc = incS === undefined ? 1 : num(incS);
    const now = num(nowS);
    const ttl = num(ttlS);
    const max = num(maxS);
    let pruned = false;
    const stamp = toNumber(kv.hget(index, field));
    if (stamp === undefined || now - stamp >= num(pruneEveryS)) {
      pruneSet(kv, set, now, ttl);
      kv.hset(index, field, nowS);
      pruned = true;
    }
    const at = toNumber(kv.hget(set, sid));
    const existing = at !== undefined && now - at < ttl;
    if (at !== undefined && !existing) {
      kv.hdel(set, sid);
    }
    if (!existing && max > 0) {
      let count = Object.keys(kv.hgetall(set)).length;
      if (count >= max && !pruned) {
        count = Object.keys(pruneSet(kv, set, now, ttl)).length;
        kv.hset(index, field, nowS);
      }
      if (count >= max) {
        return { ok: false, isNew: true, active: count };
      }
    }
    kv.hset(set, sid, nowS);
    kv.pexpire(set, ttl);
    kv.pexpire(index, ttl);
    const d = decode(kv.get(record));
    const prev =
      d && typeof d.sessionId === 'string' && now - (numField(d.lastActive) ?? 0) < ttl
        ? d
        : undefined;
    const rec: SessionRecord = {
      sessionId: sid,
      apiKeyId: apiKeyId !== '' ? apiKeyId : null,
      createdAt: now,
      lastActive: now,
      requestCount: inc,
      connectionId: null,
      source,
    };
    if (prev) {
      rec.createdAt = numField(prev.createdAt) ?? now;
      rec.requestCount = (numField(prev.requestCount) ?? 0) + inc;
      if (typeof prev.connectionId === 'string') {
        rec.connectionId = prev.connectionId;
      }
    }
    kv.set(record, JSON.stringify(rec), ttl);
    return { ok: true, isNew: !existing, active: Object.keys(kv.hgetall(set)).length };
  },
};

/**
 * keys [record] args [connectionId, ttlMs]. A missing or unreadable record (not an object with a
 * string sessionId) → {found:false,
 * changed:false}, nothing written. Else changed = its connectionId differs; when changed, the
 * record is rewritten with the new connectionId keeping its remaining time to live (ttlMs when
 * it has none). Returns {found:true, changed}.
 */
export const SESSION_BIND: KvScript<{ found: boolean; changed: boolean }> = {
  name: 'session-bind',
  lua: `
local raw = redis.call('GET', KEYS[1])
if not raw then
  return cjson.encode({ found = false, changed = false })
end
local ok, d = pcall(cjson.decode, raw)
if not ok or type(d) ~= 'table' or type(d.sessionId) ~= 'string' then
  return cjson.encode({ found = false, changed = false })
end
local changed = d.connectionId ~= ARGV[1]
if changed then
  d.connectionId = ARGV[1]
  local left = redis.call('PTTL', KEYS[1])
  if left <= 0 then
    left = tonumber(ARGV[2]) or 1
  end
  redis.call('SET', KEYS[1], cjson.encode(d), 'PX', left)
end
return cjson.encode({ found = true, changed = changed })
`,
  run(kv, keys, args) {
    const [connectionId, ttlS] = args;
    const d = decode(kv.get(keys[0]));
    if (!d || typeof d.sessionId !== 'string') {
      return { found: false, changed: false };
    }
    const changed = d.connectionId !== connectionId;
    if (changed) {
      d.connectionId = connectionId;
      let left = kv.pttl(keys[0]);
      if (left <= 0) {
        left = toNumber(ttlS) ?? 1;
      }
      kv.set(keys[0], JSON.stringify(d), left);
    }
    return { found: true, changed };
  },
};

/**
 * keys [set, index] args [indexField, now, ttlMs]. Prunes the set (fields with now - at >= ttl);
 * when nothing is left the index field is deleted, else stamped with now. Returns {sessions:
 * {sessionId: lastActive}} of the live ones.
 */
export const SESSION_PRUNE: KvScript<{ sessions: Record<string, number> }> = {
  name: 'session-prune',
  lua: `${PRUNE_LUA}
local live, n = pruneSet(KEYS[1], tonumber(ARGV[2]) or 0, tonumber(ARGV[3]) or 0)
if n == 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return cjson.encode({ sessions = live })
`,
  run(kv, keys, args) {
    const [set, index] = keys;
    const [field, nowS, ttlS] = args;
    const live = pruneSet(kv, set, num(nowS), num(ttlS));
    if (Object.keys(live).length === 0) {
      kv.hdel(index, field);
    } else {
      kv.hset(index, field, nowS);
    }
    return { sessions: live };
  },
};
