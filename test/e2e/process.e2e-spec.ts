import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { createTestDatabase, queryDb, adminQuery, dbUrl, runId, REDIS_URL } from '../support/db';
import { addMockNode } from '../support/gateway-client';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';
import { runGatewayToExit, spawnGateway, MAIN } from '../support/spawn';

const KEY = 'sk-proc-admin-0123456789abcdefghij';

function postgresProcessesFor(dir: string): number {
  try {
    return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('postgres') && l.includes(dir)).length;
  } catch {
    return 0;
  }
}

describe('the gateway as a process (dist/src/main.js)', () => {
  let mock: MockUpstream;
  beforeAll(async () => {
    expect(existsSync(MAIN)).toBe(true); // `npm test` builds first
    mock = await startMockUpstream();
  });
  afterAll(async () => {
    await mock?.close();
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://localhost/x' }],
    ['REDIS_URL', { REDIS_URL: 'http://localhost' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['REQUIRE_API_KEY', { REQUIRE_API_KEY: 'maybe' }],
    ['ENCRYPTION_KEY', { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }],
  ])('stops at boot with a message naming %s when its value is bad', async (name, env) => {
    const { code, output } = await runGatewayToExit(env);
    expect(code).toBe(1);
    expect(output).toContain('Invalid environment');
    expect(output).toContain(name);
  });

  it('runs on the embedded default (no DATABASE_URL, no REDIS_URL), keeps data across restarts and stops Postgres on shutdown', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'omni-embedded-'));
    try {
      const gw = await spawnGateway({ DATA_DIR: dataDir, ALLOW_PRIVATE_UPSTREAMS: 'true' }, 90_000);
      const keyFile = join(dataDir, 'initial-admin-key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8').trim();
      expect(gw.output()).toContain(key); // printed once on first start
      const ready = (await (await fetch(`${gw.url}/health/ready`)).json()) as {
        info: { kv: { kind: string } };
      };
      expect(ready.info.kv.kind).toBe('memory');
      await addMockNode({ url: gw.url, adminKey: key }, 'emb', mock.baseUrl);
      const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const r = await client.chat.completions.create({
        model: 'emb/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(r.choices[0].message.content).toBe(mock.reply);
      expect(postgresProcessesFor(dataDir)).toBeGreaterThan(0);
      expect(await gw.stop()).toBe(0);
      expect(postgresProcessesFor(dataDir)).toBe(0);

      const again = await spawnGateway(
        { DATA_DIR: dataDir, ALLOW_PRIVATE_UPSTREAMS: 'true' },
        90_000,
      );
      expect(again.output()).not.toContain(key); // not issued twice
      const list = await fetch(`${again.url}/api/provider-nodes`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(
        ((await list.json()) as { nodes: { prefix: string }[] }).nodes.map((n) => n.prefix),
      ).toEqual(['emb']);
      expect(await again.stop()).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('applies migrations with the migration CLI (the Helm hook) and then finds none pending', async () => {
    const name = `omni_t_${runId()}_cli_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const cli = resolve(MAIN, '../database/migrate.cli.js');
    const run = (): string =>
      execFileSync(process.execPath, [cli], {
        env: { PATH: process.env.PATH, DATABASE_URL: dbUrl(name) },
        encoding: 'utf8',
      });
    expect(run()).toMatch(/applied: CreateCoreTables/);
    expect(run()).toMatch(/no pending migrations/);
    const tables = await queryDb(
      dbUrl(name),
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    expect(tables.map((t) => t.tablename)).toEqual(
      expect.arrayContaining(['api_keys', 'provider_connections', 'usage_records']),
    );
  });

  it('lets two replicas start together on a fresh database: migrations run once, one admin key', async () => {
    const name = `omni_t_${runId()}_race_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const env = {
      DATABASE_URL: dbUrl(name),
      REDIS_URL,
      REDIS_KEY_PREFIX: `omni-t-${runId()}-race:`,
      INITIAL_ADMIN_KEY: KEY,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'omni-race-')),
    };
    const [a, b] = await Promise.all([
      spawnGateway(env),
      spawnGateway({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'omni-race-')) }),
    ]);
    try {
      const migrations = await queryDb(dbUrl(name), 'SELECT name FROM migrations');
      expect(new Set(migrations.map((m) => m.name)).size).toBe(migrations.length);
      const keys = await queryDb(
        dbUrl(name),
        "SELECT id FROM api_keys WHERE name = 'initial-admin'",
      );
      expect(keys).toHaveLength(1);
      for (const g of [a, b]) {
        expect(
          (await fetch(`${g.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } }))
            .status,
        ).toBe(200);
      }
    } finally {
      expect(await a.stop()).toBe(0);
      expect(await b.stop()).toBe(0);
    }
  });

  it('logs JSON lines that carry the request id and never the API key', async () => {
    const db = await createTestDatabase();
    const gw = await spawnGateway({
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: `omni-t-${runId()}-logs:`,
      INITIAL_ADMIN_KEY: KEY,
      ALLOW_PRIVATE_UPSTREAMS: 'true',
      LOG_LEVEL: 'info',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'omni-logs-')),
    });
    try {
      await addMockNode({ url: gw.url, adminKey: KEY }, 'logs', mock.baseUrl);
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${KEY}`,
          'content-type': 'application/json',
          'x-request-id': 'log-check-42',
        },
        body: JSON.stringify({
          model: 'logs/reset',
          messages: [{ role: 'user', content: 'secret prompt text' }],
          stream: false,
        }),
      });
      expect(res.status).toBe(502);
      await res.text();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await gw.stop();
    }
    const lines = gw
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.requestId === 'log-check-42' && l.level === 'warn')).toBe(true);
    expect(gw.output()).not.toContain(KEY);
    expect(gw.output()).not.toContain('secret prompt text');
  });

  it('drains on SIGTERM: in-flight streams finish and every usage record is written before exit', async () => {
    const db = await createTestDatabase();
    const gw = await spawnGateway({
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: `omni-t-${runId()}-drain:`,
      INITIAL_ADMIN_KEY: KEY,
      ALLOW_PRIVATE_UPSTREAMS: 'true',
      USAGE_FLUSH_INTERVAL_MS: '60000', // nothing is flushed by the timer: only shutdown writes
      DATA_DIR: mkdtempSync(join(tmpdir(), 'omni-drain-')),
    });
    await addMockNode({ url: gw.url, adminKey: KEY }, 'drain', mock.baseUrl);
    const client = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    for (let i = 0; i < 10; i++) {
      await client.chat.completions.create({
        model: 'drain/gpt-4o-mini',
        messages: [{ role: 'user', content: `n${i}` }],
      });
    }
    mock.configure({ slowMs: 800 });
    const slow = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'drain/slow-first-token',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      }),
    }).then((r) => r.text());
    await mock.waitFor((m) => m.requests.some((r) => r.body?.model === 'slow-first-token'));
    const code = await gw.stop();
    expect(code).toBe(0);
    expect(await slow).toContain('[DONE]');
    const rows = await queryDb(
      db.url,
      "SELECT status FROM usage_records WHERE surface = 'openai-chat'",
    );
    expect(rows).toHaveLength(11);
    expect(rows.every((r) => r.status === 200)).toBe(true);
    mock.configure({ slowMs: 2000 });
  });
});
