'use strict';
/**
 * `npm run bench` (after `npm run build`): gateway overhead vs. calling the upstream directly.
 *
 * 1. starts the mock upstream in this process (record:false) on a random port;
 * 2. creates a fresh Postgres database, starts `node dist/src/main.js` on a free port with its own
 *    Redis key prefix and data dir, waits for GET /health/ready;
 * 3. registers the mock as an openai-compatible provider node + connection via the management API;
 * 4. autocannon: non-stream and stream × 10 and 50 connections, each first direct to the mock then
 *    through the gateway (model mock/gpt-4o-mini), plus 1 connection for the added mean latency;
 * 5. prints a table + the targets (informative), and always cleans up: gateway (SIGTERM, SIGKILL
 *    after 10 s), mock, database, Redis keys, data dir.
 *
 * Exit code 1 only when the bench itself failed (gateway did not start or died, setup failed,
 * responses were wrong, more than 1% errors/non-2xx); missing a target still exits 0.
 *
 * Environment (all optional):
 *   BENCH_DURATION=8         seconds per measured run      BENCH_WARMUP=1     warm-up seconds per run
 *   BENCH_CONNECTIONS=10,50  connection counts             BENCH_STARTUP_TIMEOUT=60 (seconds)
 *   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres   (admin connection, creates/drops the db)
 *   BENCH_REDIS_URL=redis://127.0.0.1:6379    BENCH_NODE_ENV=production
 *   BENCH_GATEWAY_ENTRY=dist/src/main.js      BENCH_JSON=<file>  also write the results as JSON
 *   BENCH_KEEP_LOG=1         keep the gateway log even when the bench succeeds
 * Latencies are measured per response (sub-millisecond), not from autocannon's 1 ms histogram.
 */
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { Client } = require('pg');
const { startMockUpstream } = require('../support/mock-upstream');

const ROOT = path.resolve(__dirname, '..', '..');
const ENTRY = path.resolve(ROOT, process.env.BENCH_GATEWAY_ENTRY || 'dist/src/main.js');
const DURATION = envNumber('BENCH_DURATION', 8);
const WARMUP = envNumber('BENCH_WARMUP', 1);
const STARTUP_TIMEOUT_S = envNumber('BENCH_STARTUP_TIMEOUT', 60);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS || '10,50')
  .split(',')
  .map((c) => Number(c.trim()))
  .filter((c) => Number.isInteger(c) && c > 0);
const PG_ADMIN_URL = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
const ADMIN_KEY = 'sk-bench-admin-key-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-test';
const MAX_BAD_RATE = 0.01;
const TARGETS = { nonStreamRatio: 0.25, streamRatio: 0.33, addedLatencyMs: 1, rssMb: 250 };
const MESSAGES = [{ role: 'user', content: 'Say hello in five words.' }];

/** An expected failure: printed without a stack trace. */
class BenchError extends Error {}

function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`${name} must be a positive number (got "${raw}")`);
    process.exit(2);
  }
  return n;
}

const log = (msg) => console.log(`[bench] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const redact = (url) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

// ---------------------------------------------------------------------------------------------
// State shared with cleanup (which may also run from a signal handler)
// ---------------------------------------------------------------------------------------------
const stamp = Date.now();
const state = {
  dbName: `omniroute_bench_${stamp}`,
  redisPrefix: `bench-${stamp}:`,
  dbCreated: false,
  mock: null,
  child: null,
  childExit: null, // { code, signal } once the gateway exited
  childExited: null, // promise
  dataDir: null,
  logPath: path.join(os.tmpdir(), `omniroute-bench-${stamp}.log`),
  logOpened: false,
  rss: { timer: null, peakKb: 0, idleKb: 0, samples: 0 },
  load: null, // running autocannon instance
  failed: false,
  cleanup: null,
};

// ---------------------------------------------------------------------------------------------
// Postgres / Redis
// ---------------------------------------------------------------------------------------------
function databaseUrl(dbName) {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
}

async function withAdminClient(fn) {
  const client = new Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new BenchError(`cannot connect to Postgres at ${redact(PG_ADMIN_URL)}: ${err.message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function createDatabase() {
  await withAdminClient(async (c) => {
    try {
      await c.query(`CREATE DATABASE "${state.dbName}"`);
    } catch (err) {
      throw new BenchError(`cannot create database ${state.dbName}: ${err.message}`);
    }
    state.dbCreated = true;
  });
}

async function dropDatabase() {
  if (!state.dbCreated) {
    return;
  }
  await withAdminClient(async (c) => {
    try {
      await c.query(`DROP DATABASE IF EXISTS "${state.dbName}" WITH (FORCE)`);
    } catch {
      // Postgres < 13 has no WITH (FORCE)
      await c.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [state.dbName],
      );
      await c.query(`DROP DATABASE IF EXISTS "${state.dbName}"`);
    }
  });
  state.dbCreated = false;
}

/** Deletes the keys the gateway wrote under its bench prefix (best effort). */
async function cleanRedis() {
  let Redis;
  try {
    Redis = require('ioredis').Redis;
  } catch {
    return 0;
  }
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(
        cursor,
        'MATCH',
        `${state.redisPrefix}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (keys.length) {
        deleted += await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

// ---------------------------------------------------------------------------------------------
// Gateway process
// ---------------------------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function logTail(lines = 60) {
  try {
    const text = fs.readFileSync(state.logPath, 'utf8');
    const all = text.trimEnd().split('\n');
    return all.slice(-lines).join('\n') || '(empty)';
  } catch {
    return '(no log)';
  }
}

function printLogTail(reason) {
  console.error(`\n[bench] ${reason} — last lines of the gateway log (${state.logPath}):`);
  console.error('-'.repeat(100));
  console.error(logTail());
  console.error('-'.repeat(100));
}

function startGateway(port) {
  state.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omniroute-bench-data-'));
  const logFd = fs.openSync(state.logPath, 'w');
  state.logOpened = true;
  const env = {
    ...process.env,
    NODE_ENV: process.env.BENCH_NODE_ENV || 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl(state.dbName),
    REDIS_URL,
    REDIS_KEY_PREFIX: state.redisPrefix,
    ALLOW_PRIVATE_UPSTREAMS: 'true',
    INITIAL_ADMIN_KEY: ADMIN_KEY,
    INITIAL_PASSWORD: 'bench-password',
    LOG_LEVEL: 'warn',
    DATA_DIR: state.dataDir,
    // required when NODE_ENV=production; throwaway values for this run
    ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'),
    JWT_SECRET: crypto.randomBytes(32).toString('hex'),
  };
  const child = spawn(process.execPath, [ENTRY], {
    cwd: ROOT,
    env,
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  state.child = child;
  state.childExited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      state.childExit = { code, signal };
      resolve(state.childExit);
    });
    child.once('error', (err) => {
      state.childExit = { code: null, signal: null, error: err };
      resolve(state.childExit);
    });
  });
  return child;
}

function describeExit(e) {
  if (e.error) {
    return `could not be spawned: ${e.error.message}`;
  }
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

async function waitReady(base) {
  const deadline = Date.now() + STARTUP_TIMEOUT_S * 1000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (state.childExit) {
      throw new BenchError(`the gateway ${describeExit(state.childExit)} during startup`);
    }
    try {
      const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      if (res.status === 200) {
        return;
      }
      last = `HTTP ${res.status} ${text.slice(0, 200)}`;
    } catch (err) {
      last = err.cause?.code || err.message;
    }
    await sleep(250);
  }
  throw new BenchError(
    `the gateway was not ready after ${STARTUP_TIMEOUT_S} s (GET /health/ready: ${last})`,
  );
}

async function stopGateway() {
  const child = state.child;
  if (!child || state.childExit) {
    return;
  }
  child.kill('SIGTERM');
  const timeout = (ms) => sleep(ms).then(() => null);
  if (await Promise.race([state.childExited, timeout(10_000)])) {
    return;
  }
  log('gateway still running 10 s after SIGTERM: SIGKILL');
  child.kill('SIGKILL');
  await Promise.race([state.childExited, timeout(5000)]);
}

function readRssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function startRssSampler() {
  const pid = state.child.pid;
  state.rss.idleKb = readRssKb(pid);
  state.rss.peakKb = state.rss.idleKb;
  state.rss.timer = setInterval(() => {
    const kb = readRssKb(pid);
    state.rss.samples++;
    if (kb > state.rss.peakKb) {
      state.rss.peakKb = kb;
    }
  }, 200);
}

function stopRssSampler() {
  if (state.rss.timer) {
    clearInterval(state.rss.timer);
    state.rss.timer = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Setup through the management API, and a correctness check before measuring
// ---------------------------------------------------------------------------------------------
async function api(base, method, urlPath, body) {
  let res;
  try {
    res = await fetch(`${base}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new BenchError(`${method} ${urlPath} failed: ${err.cause?.code || err.message}`);
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status < 200 || res.status > 299) {
    throw new BenchError(`${method} ${urlPath} → HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  return json;
}

async function configureGateway(base, mock) {
  const nodeRes = await api(base, 'POST', '/api/provider-nodes', {
    name: 'mock',
    prefix: 'mock',
    type: 'openai-compatible',
    apiType: 'chat',
    baseUrl: mock.baseUrl,
  });
  const nodeId = nodeRes && nodeRes.node && nodeRes.node.id;
  if (!nodeId) {
    throw new BenchError(
      `POST /api/provider-nodes answered without node.id: ${JSON.stringify(nodeRes).slice(0, 300)}`,
    );
  }
  const connRes = await api(base, 'POST', '/api/providers', {
    provider: nodeId,
    name: 'bench',
    apiKey: UPSTREAM_KEY,
  });
  if (!connRes || !connRes.connection) {
    throw new BenchError(
      `POST /api/providers answered without connection: ${JSON.stringify(connRes).slice(0, 300)}`,
    );
  }
  return nodeId;
}

function requestBody(model, stream) {
  return JSON.stringify(
    stream
      ? { model, messages: MESSAGES, stream: true }
      : { model, messages: MESSAGES, stream: false },
  );
}

function streamText(sse) {
  let text = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data:')) {
      continue;
    }
    const data = line.slice(5).trim();
    if (data === '[DONE]') {
      continue;
    }
    try {
      const chunk = JSON.parse(data);
      text += chunk.choices?.[0]?.delta?.content ?? '';
    } catch {
      // not JSON: ignored
    }
  }
  return text;
}

/** One request per mode through the target; fails when the answer is not the mock's reply. */
async function checkTarget(name, url, headers, model, mock) {
  for (const stream of [false, true]) {
    const mode = stream ? 'stream' : 'non-stream';
    const before = mock.count;
    let res;
    let text;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: requestBody(model, stream),
        signal: AbortSignal.timeout(10_000),
      });
      text = await res.text();
    } catch (err) {
      throw new BenchError(
        `${name} ${mode} check request failed: ${err.cause?.code || err.message}`,
      );
    }
    if (res.status !== 200) {
      throw new BenchError(`${name} ${mode} check → HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    let content;
    if (stream) {
      content = streamText(text);
    } else {
      try {
        content = JSON.parse(text).choices[0].message.content;
      } catch {
        content = undefined;
      }
    }
    if (content !== mock.reply) {
      throw new BenchError(
        `${name} ${mode} check: expected the reply "${mock.reply}", got ${JSON.stringify(
          content,
        )} in: ${text.slice(0, 500)}`,
      );
    }
    if (mock.count === before) {
      throw new BenchError(`${name} ${mode} check: the answer did not come from the mock upstream`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------
function percentile(sorted, p) {
  if (sorted.length === 0) {
    return NaN;
  }
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** One autocannon run; latencies of 2xx answers collected exactly (float ms). */
function load({ url, connections, duration, body, headers, mock }) {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    const upstreamBefore = mock.count;
    const instance = autocannon(
      {
        url,
        method: 'POST',
        connections,
        pipelining: 1,
        duration,
        timeout: 10,
        headers,
        body,
      },
      (err, result) => {
        state.load = null;
        if (err) {
          reject(err);
          return;
        }
        const sorted = latencies.subarray(0, n).sort();
        let sum = 0;
        for (let i = 0; i < n; i++) {
          sum += sorted[i];
        }
        const ok = result['2xx'];
        const bad = result.non2xx + result.errors;
        resolve({
          connections,
          duration: result.duration,
          ok,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes: result.statusCodeStats,
          badRate: bad / Math.max(1, ok + bad),
          rps: ok / Math.max(0.001, result.duration),
          mean: n ? sum / n : NaN,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          upstreamCalls: mock.count - upstreamBefore,
        });
      },
    );
    state.load = instance;
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        if (n === latencies.length) {
          const bigger = new Float64Array(latencies.length * 2);
          bigger.set(latencies);
          latencies = bigger;
        }
        latencies[n++] = responseTime;
      }
    });
  });
}

async function measure(target, stream, connections, mock) {
  const spec = {
    url: target.url,
    connections,
    body: requestBody(target.model, stream),
    headers: target.headers,
    mock,
  };
  if (WARMUP > 0) {
    await load({ ...spec, duration: WARMUP });
  }
  const r = await load({ ...spec, duration: DURATION });
  if (target.isGateway && state.childExit) {
    throw new BenchError(`the gateway ${describeExit(state.childExit)} during the load test`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function report(results) {
  const rows = results.throughput.map(({ name, direct, gateway }) => [
    name,
    f0(direct.rps),
    f0(gateway.rps),
    f2(gateway.rps / direct.rps),
    `${f2(direct.p50)} / ${f2(direct.p99)}`,
    `${f2(gateway.p50)} / ${f2(gateway.p99)}`,
    `${direct.errors} / ${direct.non2xx}`,
    `${gateway.errors} / ${gateway.non2xx}`,
    f2(gateway.upstreamCalls / Math.max(1, gateway.ok)),
  ]);
  console.log('');
  console.log(
    `Gateway overhead — ${DURATION} s per run (+${WARMUP} s warm-up), node ${process.version}, ` +
      `${os.cpus().length} CPUs; latencies in ms`,
  );
  console.log('');
  console.log(
    table(
      [
        'scenario',
        'direct req/s',
        'gateway req/s',
        'ratio',
        'direct p50/p99',
        'gateway p50/p99',
        'direct err/non2xx',
        'gateway err/non2xx',
        'upstream/req',
      ],
      rows,
    ),
  );
  console.log('');
  console.log('Added mean latency at 1 connection (gateway mean − direct mean):');
  for (const { name, direct, gateway } of results.latency) {
    console.log(
      `  ${name.padEnd(15)} ${f3(gateway.mean - direct.mean)} ms   ` +
        `(direct ${f3(direct.mean)} ms, gateway ${f3(gateway.mean)} ms; ` +
        `${f0(direct.ok)} / ${f0(gateway.ok)} requests)`,
    );
  }
  const rssMb = state.rss.peakKb / 1024;
  console.log(
    `Gateway RSS: peak ${state.rss.peakKb ? f2(rssMb) : 'n/a'} MB ` +
      `(idle after startup ${state.rss.idleKb ? f2(state.rss.idleKb / 1024) : 'n/a'} MB, ` +
      `${state.rss.samples} samples)`,
  );
  const worst = (stream) =>
    Math.min(
      ...results.throughput
        .filter((r) => r.stream === stream)
        .map((r) => r.gateway.rps / r.direct.rps),
    );
  const added = Math.max(...results.latency.map((r) => r.gateway.mean - r.direct.mean));
  const mark = (ok) => (ok ? 'PASS' : 'MISS');
  const checks = [
    ['non-stream ratio ≥ 0.25', worst(false) >= TARGETS.nonStreamRatio, f2(worst(false))],
    ['stream ratio ≥ 0.33', worst(true) >= TARGETS.streamRatio, f2(worst(true))],
    ['added latency < 1 ms', added < TARGETS.addedLatencyMs, `${f3(added)} ms`],
    ['RSS < 250 MB', state.rss.peakKb > 0 && rssMb < TARGETS.rssMb, `${f2(rssMb)} MB`],
  ];
  console.log('');
  console.log(
    `Targets (informative): ${checks.map(([t, ok, v]) => `${t}: ${mark(ok)} (${v})`).join(' | ')}`,
  );
  return checks.map(([target, ok, value]) => ({ target, pass: ok, value }));
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
async function main() {
  if (!fs.existsSync(ENTRY)) {
    throw new BenchError(
      `${path.relative(ROOT, ENTRY)} not found — build the gateway first (\`npm run bench\` runs \`npm run build\`)`,
    );
  }
  if (CONNECTIONS.length === 0) {
    throw new BenchError('BENCH_CONNECTIONS lists no valid connection count');
  }

  const mock = await startMockUpstream({ record: false, apiKey: UPSTREAM_KEY });
  state.mock = mock;
  log(`mock upstream at ${mock.url}`);

  await createDatabase();
  log(`database ${state.dbName} created on ${redact(PG_ADMIN_URL)}`);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  startGateway(port);
  log(`gateway pid ${state.child.pid} on ${base} (log ${state.logPath})`);
  try {
    await waitReady(base);
  } catch (err) {
    printLogTail('gateway startup failed');
    throw err;
  }
  log('gateway ready');

  try {
    await configureGateway(base, mock);
  } catch (err) {
    printLogTail('gateway configuration failed');
    throw err;
  }

  const common = { 'content-type': 'application/json', 'x-omniroute-no-cache': 'true' };
  const direct = {
    name: 'direct',
    url: `${mock.baseUrl}/chat/completions`,
    model: 'gpt-4o-mini',
    headers: { ...common, authorization: `Bearer ${UPSTREAM_KEY}` },
    isGateway: false,
  };
  const gateway = {
    name: 'gateway',
    url: `${base}/v1/chat/completions`,
    model: 'mock/gpt-4o-mini',
    headers: { ...common, authorization: `Bearer ${ADMIN_KEY}` },
    isGateway: true,
  };
  await checkTarget('direct', direct.url, direct.headers, direct.model, mock);
  try {
    await checkTarget('gateway', gateway.url, gateway.headers, gateway.model, mock);
  } catch (err) {
    printLogTail('gateway check request failed');
    throw err;
  }
  log('direct and gateway answer correctly (stream and non-stream)');

  startRssSampler();
  const results = { throughput: [], latency: [] };
  const plan = [];
  for (const stream of [false, true]) {
    for (const c of CONNECTIONS) {
      plan.push({ kind: 'throughput', stream, connections: c });
    }
  }
  for (const stream of [false, true]) {
    plan.push({ kind: 'latency', stream, connections: 1 });
  }
  let step = 0;
  for (const p of plan) {
    const name = `${p.stream ? 'stream' : 'non-stream'} c=${p.connections}`;
    const out = { name, stream: p.stream, connections: p.connections };
    for (const target of [direct, gateway]) {
      step++;
      log(`[${step}/${plan.length * 2}] ${name} → ${target.name} …`);
      const r = await measure(target, p.stream, p.connections, mock);
      out[target.name] = r;
      log(
        `        ${f0(r.rps)} req/s, mean ${f3(r.mean)} ms, p99 ${f2(r.p99)} ms, ` +
          `${r.errors} errors, ${r.non2xx} non-2xx`,
      );
    }
    results[p.kind].push(out);
  }
  stopRssSampler();

  const checks = report(results);

  const bad = [];
  for (const r of [...results.throughput, ...results.latency]) {
    for (const t of ['direct', 'gateway']) {
      if (r[t].badRate > MAX_BAD_RATE) {
        bad.push(
          `${r.name} ${t}: ${(r[t].badRate * 100).toFixed(2)}% errors/non-2xx ` +
            `(status codes ${JSON.stringify(r[t].statusCodes)}, ${r[t].errors} errors)`,
        );
      }
    }
  }

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        {
          at: new Date(stamp).toISOString(),
          node: process.version,
          cpus: os.cpus().length,
          durationS: DURATION,
          warmupS: WARMUP,
          results,
          rss: { peakMb: state.rss.peakKb / 1024, idleMb: state.rss.idleKb / 1024 },
          targets: checks,
          failures: bad,
        },
        null,
        2,
      ),
    );
    log(`results written to ${process.env.BENCH_JSON}`);
  }

  if (bad.length) {
    printLogTail('too many failed requests');
    throw new BenchError(
      `more than ${MAX_BAD_RATE * 100}% failed requests:\n  ${bad.join('\n  ')}`,
    );
  }
}

function cleanup() {
  if (state.cleanup) {
    return state.cleanup;
  }
  state.cleanup = (async () => {
    stopRssSampler();
    if (state.load) {
      state.load.stop();
    }
    const step = async (what, fn) => {
      try {
        await fn();
      } catch (err) {
        console.error(`[bench] cleanup: ${what} failed: ${err.message}`);
        state.failed = true;
      }
    };
    await step('stopping the gateway', async () => {
      if (state.child && !state.childExit) {
        await stopGateway();
        if (!state.childExit) {
          throw new Error(`pid ${state.child.pid} did not exit even after SIGKILL`);
        }
        log(`gateway stopped (${describeExit(state.childExit)})`);
      }
    });
    await step('closing the mock upstream', async () => state.mock && state.mock.close());
    await step(`dropping database ${state.dbName}`, async () => {
      if (state.dbCreated) {
        await dropDatabase();
        log(`database ${state.dbName} dropped`);
      }
    });
    await step('deleting Redis keys', async () => {
      if (state.child) {
        const n = await cleanRedis();
        log(`${n} Redis keys under ${state.redisPrefix} deleted`);
      }
    });
    await step('removing the data dir', async () => {
      if (state.dataDir) {
        fs.rmSync(state.dataDir, { recursive: true, force: true });
      }
    });
    if (state.logOpened) {
      if (state.failed) {
        log(`gateway log kept at ${state.logPath}`);
      } else if (process.env.BENCH_KEEP_LOG) {
        log(`gateway log at ${state.logPath}`);
      } else {
        fs.rmSync(state.logPath, { force: true });
      }
    }
  })();
  return state.cleanup;
}

function onSignal(signal) {
  console.error(`\n[bench] ${signal}: cleaning up…`);
  state.failed = true;
  cleanup().finally(() => process.exit(130));
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

let failure = null;
main()
  .catch((err) => {
    state.failed = true;
    failure = err;
  })
  .then(() => cleanup())
  .then(() => {
    if (failure instanceof BenchError) {
      console.error(`\n[bench] FAILED: ${failure.message}`);
    } else if (failure) {
      console.error('\n[bench] FAILED with an unexpected error:');
      console.error(failure);
    }
    process.exit(state.failed ? 1 : 0);
  });
