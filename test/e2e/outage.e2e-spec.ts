import OpenAI from 'openai';
import { UsageService } from '../../src/usage/usage.service';
import { startTestApp, type TestApp } from '../support/app';
import { createTestDatabase, queryDb } from '../support/db';
import { addMockNode } from '../support/gateway-client';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) {
      throw new Error('condition not met in time');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Postgres and Redis outages (through a TCP proxy the test cuts)', () => {
  let mock: MockUpstream;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let gw: TestApp;
  let directDb: string;

  beforeAll(async () => {
    mock = await startMockUpstream();
    const db = await createTestDatabase();
    directDb = db.url;
    pgProxy = await startTcpProxy('127.0.0.1', 5432);
    redisProxy = await startTcpProxy('127.0.0.1', 6379);
    const proxied = new URL(db.url);
    proxied.port = String(pgProxy.port);
    gw = await startTestApp({
      dbUrl: proxied.toString(),
      env: {
        REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
        API_KEY_CACHE_TTL_MS: '200', // expires during the outage: the stale entry must keep serving
        USAGE_FLUSH_INTERVAL_MS: '100',
      },
    });
    await addMockNode(gw, 'out', mock.baseUrl);
  });
  afterAll(async () => {
    await pgProxy?.up().catch(() => undefined);
    await redisProxy?.up().catch(() => undefined);
    await gw?.close();
    await pgProxy?.close();
    await redisProxy?.close();
    await mock?.close();
  });

  const ask = (n: number): Promise<OpenAI.ChatCompletion> =>
    new OpenAI({
      apiKey: gw.adminKey,
      baseURL: `${gw.url}/v1`,
      maxRetries: 0,
    }).chat.completions.create({
      model: 'out/gpt-4o-mini',
      messages: [{ role: 'user', content: `q${n}` }],
    });

  it('keeps answering while Postgres is down and writes every usage record exactly once when it returns', async () => {
    for (let i = 0; i < 3; i++) {
      await ask(i);
    }
    const usage = gw.app.get(UsageService);
    await until(() => usage.pending() === 0);
    await pgProxy.down();
    for (let i = 3; i < 13; i++) {
      expect((await ask(i)).choices[0].message.content).toBe(mock.reply);
    }
    const ready = await fetch(`${gw.url}/health/ready`);
    expect(ready.status).toBe(503);
    await new Promise((r) => setTimeout(r, 300)); // a few failed flush attempts
    expect(usage.pending()).toBe(10);
    await pgProxy.up();
    await until(() => usage.pending() === 0);
    const rows = await queryDb(
      directDb,
      "SELECT id, status FROM usage_records WHERE surface = 'openai-chat'",
    );
    expect(rows).toHaveLength(13);
    expect(new Set(rows.map((r) => r.id)).size).toBe(13);
    await until(async () => (await fetch(`${gw.url}/health/ready`)).status === 200);
  });

  it('keeps answering while Redis is down, and reports it in readiness', async () => {
    await redisProxy.down();
    for (let i = 0; i < 3; i++) {
      expect((await ask(100 + i)).choices[0].message.content).toBe(mock.reply);
    }
    const ready = await fetch(`${gw.url}/health/ready`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error)).toContain('kv');
    await redisProxy.up();
    await until(async () => (await fetch(`${gw.url}/health/ready`)).status === 200);
  });
});
