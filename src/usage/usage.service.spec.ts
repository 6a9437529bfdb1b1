import type { DataSource } from 'typeorm';
import { MetricsService } from '@/common/metrics/metrics.service';
import { validateEnv } from '@/config/env.schema';
import { UsageService, uuidv7, type UsageEvent } from './usage.service';

const event = (n: number): UsageEvent => ({
  requestId: `req-${n}`,
  apiKeyId: null,
  apiKeyName: null,
  surface: 'openai-chat',
  provider: 'openai',
  model: 'gpt-4o-mini',
  connectionId: null,
  status: 200,
  success: true,
  stream: false,
  tokensInput: n,
  tokensOutput: 1,
  tokensCacheRead: 0,
  tokensCacheCreation: 0,
  tokensReasoning: 0,
  latencyMs: 1.4,
  ttftMs: null,
  errorCode: null,
});

interface Deferred {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A DataSource whose `query` is answered by the test, recording each batch's request ids. */
function fakeDataSource(): { ds: DataSource; batches: string[][]; pending: Deferred[] } {
  const batches: string[][] = [];
  const pending: Deferred[] = [];
  const ds = {
    query: (_sql: string, params: unknown[]) =>
      new Promise<void>((resolve, reject) => {
        const rows = JSON.parse(params[0] as string) as { request_id: string }[];
        pending.push({
          resolve: () => {
            batches.push(rows.map((r) => r.request_id));
            resolve();
          },
          reject,
        });
      }),
  } as unknown as DataSource;
  return { ds, batches, pending };
}

function service(ds: DataSource, max = 100): { usage: UsageService; metrics: MetricsService } {
  const metrics = new MetricsService();
  const env = validateEnv({ USAGE_BUFFER_MAX: String(max), USAGE_FLUSH_INTERVAL_MS: '60000' });
  return { usage: new UsageService(ds, metrics, env), metrics };
}

async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

describe(UsageService.name, () => {
  it('writes buffered records in one statement as JSON rows with column names', async () => {
    const f = fakeDataSource();
    const { usage } = service(f.ds);
    usage.record(event(1));
    usage.record(event(2));
    expect(usage.pending()).toBe(2);
    const flushing = usage.flush();
    await settle();
    f.pending[0].resolve();
    await flushing;
    expect(f.batches).toEqual([['req-1', 'req-2']]);
    expect(usage.pending()).toBe(0);
  });

  it('keeps records when the database fails and writes them once when it is back', async () => {
    const f = fakeDataSource();
    const { usage } = service(f.ds);
    usage.record(event(1));
    let flushing = usage.flush();
    await settle();
    f.pending[0].reject(new Error('connection refused'));
    await flushing;
    expect(usage.pending()).toBe(1);
    usage.record(event(2));
    flushing = usage.flush();
    await settle();
    f.pending[1].resolve();
    await flushing;
    expect(f.batches).toEqual([['req-1', 'req-2']]);
    expect(usage.pending()).toBe(0);
  });

  it('drops the oldest records beyond USAGE_BUFFER_MAX and counts them', async () => {
    const f = fakeDataSource();
    const { usage, metrics } = service(f.ds, 100);
    for (let i = 0; i < 105; i++) {
      usage.record(event(i));
    }
    expect(usage.pending()).toBe(100);
    expect((await metrics.usageDropped.get()).values[0].value).toBe(5);
    const flushing = usage.flush();
    await settle();
    f.pending[0].resolve();
    await flushing;
    expect(f.batches[0][0]).toBe('req-5');
    expect(f.batches[0]).toHaveLength(100);
  });

  it('removes exactly the written records when a full buffer drops some while a batch is in flight', async () => {
    const f = fakeDataSource();
    const { usage } = service(f.ds, 100);
    for (let i = 0; i < 100; i++) {
      usage.record(event(i));
    }
    const flushing = usage.flush();
    await settle(); // batch req-0 … req-99 is being written
    for (let i = 100; i < 103; i++) {
      usage.record(event(i)); // full: req-0 … req-2 dropped from the head meanwhile
    }
    f.pending[0].resolve();
    await settle();
    f.pending[1]?.resolve();
    await flushing;
    const written = f.batches.flat();
    expect(written.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => `req-${i}`));
    expect(written.slice(100)).toEqual(['req-100', 'req-101', 'req-102']);
    expect(usage.pending()).toBe(0);
  });
});

describe('uuidv7', () => {
  it('makes version-7 ids that sort in creation order, also within one millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 50 }, () => uuidv7(now));
    expect(
      ids.every((id) =>
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id),
      ),
    ).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });
});
