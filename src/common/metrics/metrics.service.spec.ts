import { LabelCap, MAX_LABEL_LENGTH, NONE_LABEL, OVERFLOW_LABEL } from './label-cap';
import { MAX_KEY_LABELS, MAX_MODEL_LABELS, MetricsService } from './metrics.service';

type Sample = { labels: Record<string, string | number>; value: number };

async function values(m: MetricsService, name: string): Promise<Sample[]> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) {
    throw new Error(`${name} is not registered`);
  }
  return (await metric.get()).values as Sample[];
}

const distinct = (samples: Sample[], label: string): Set<string | number> =>
  new Set(samples.map((s) => s.labels[label]));

describe(LabelCap.name, () => {
  it('admits the first `limit` values, then answers `other` for new ones only', () => {
    const cap = new LabelCap(3);
    expect(['a', 'b', 'c'].map((v) => cap.value(v))).toEqual(['a', 'b', 'c']);
    expect(cap.value('d')).toBe(OVERFLOW_LABEL);
    expect(cap.value('a')).toBe('a');
    expect(cap.size).toBe(3);
  });

  it('maps missing values to `none` without using a slot, and cuts long values', () => {
    const cap = new LabelCap(1);
    expect([cap.value(null), cap.value(undefined), cap.value('')]).toEqual([
      NONE_LABEL,
      NONE_LABEL,
      NONE_LABEL,
    ]);
    expect(cap.size).toBe(0);
    expect(cap.value('x'.repeat(500))).toBe('x'.repeat(MAX_LABEL_LENGTH));
  });
});

describe(MetricsService.name, () => {
  let m: MetricsService;
  beforeEach(() => {
    m = new MetricsService();
  });

  it('registers the API.md §4 metric set', async () => {
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'gateway_requests_total',
        'gateway_request_duration_seconds',
        'gateway_upstream_ttfb_seconds',
        'gateway_overhead_seconds',
        'gateway_tokens_total',
        'gateway_cost_usd_total',
        'gateway_cache_requests_total',
        'gateway_idempotent_replays_total',
        'gateway_fallbacks_total',
        'gateway_breaker_state',
        'gateway_rate_limit_rejections_total',
        'gateway_usage_buffer_depth',
        'gateway_usage_dropped_total',
        'gateway_usage_written_total',
        'gateway_call_log_buffer_depth',
        'process_cpu_seconds_total',
      ]),
    );
  });

  it('recordUsage counts tokens per direction and cost by provider, model and key', async () => {
    m.recordUsage({
      provider: 'openai',
      model: 'openai/gpt-4o',
      key: 'ci-bot',
      input: 100,
      output: 40,
      cacheRead: 20,
      cacheCreation: 0,
      reasoning: 10,
      costUsd: 0.0125,
    });
    m.recordUsage({
      provider: 'openai',
      model: 'openai/gpt-4o',
      key: 'ci-bot',
      input: 1,
      costUsd: 0,
    });
    m.recordUsage({ provider: 'openai', model: null, key: null, output: Number.NaN, input: -3 });
    const tokens = await values(m, 'gateway_tokens_total');
    const byDirection = Object.fromEntries(
      tokens.filter((s) => s.labels.key === 'ci-bot').map((s) => [s.labels.direction, s.value]),
    );
    expect(byDirection).toEqual({ input: 101, output: 40, cache_read: 20, reasoning: 10 });
    expect(tokens.every((s) => s.labels.provider === 'openai')).toBe(true);
    expect(tokens.some((s) => s.labels.key === NONE_LABEL)).toBe(false); // nothing valid to count
    const cost = await values(m, 'gateway_cost_usd_total');
    expect(cost).toEqual([
      { labels: { provider: 'openai', model: 'openai/gpt-4o', key: 'ci-bot' }, value: 0.0125 },
    ]);
  });

  it(`caps key names at ${MAX_KEY_LABELS} and models at ${MAX_MODEL_LABELS}: later ones are "other"`, async () => {
    for (let i = 0; i < MAX_KEY_LABELS + 50; i++) {
      m.recordUsage({ provider: 'p', model: 'm', key: `key-${i}`, input: 1, costUsd: 0.001 });
    }
    for (let i = 0; i < MAX_MODEL_LABELS + 50; i++) {
      m.recordUsage({ provider: 'p', model: `model-${i}`, key: 'key-0', output: 1 });
    }
    const tokens = await values(m, 'gateway_tokens_total');
    const keys = distinct(tokens, 'key');
    const models = distinct(tokens, 'model');
    expect(keys.size).toBe(MAX_KEY_LABELS + 1);
    expect(keys.has(OVERFLOW_LABEL)).toBe(true);
    expect(keys.has(`key-${MAX_KEY_LABELS}`)).toBe(false);
    // 'm' came first, so 999 of the model-i fit
    expect(models.size).toBe(MAX_MODEL_LABELS + 1);
    expect(models.has(OVERFLOW_LABEL)).toBe(true);
    const other = tokens.filter((s) => s.labels.key === OVERFLOW_LABEL);
    expect(other).toEqual([
      { labels: { provider: 'p', model: 'm', key: OVERFLOW_LABEL, direction: 'input' }, value: 50 },
    ]);
    const overflowModels = tokens.filter((s) => s.labels.model === OVERFLOW_LABEL);
    expect(overflowModels.reduce((n, s) => n + s.value, 0)).toBe(51);
    // an admitted value keeps its own series
    m.recordUsage({ provider: 'p', model: 'm', key: 'key-3', input: 5 });
    const key3 = (await values(m, 'gateway_tokens_total')).find(
      (s) => s.labels.key === 'key-3' && s.labels.direction === 'input',
    );
    expect(key3?.value).toBe(6);
    const cost = await values(m, 'gateway_cost_usd_total');
    expect(distinct(cost, 'key').size).toBe(MAX_KEY_LABELS + 1);
  });

  it('labels requests by model, capped by the same model cap', async () => {
    m.recordRequest('openai-chat', 'openai', 200, 0.1, 'openai/gpt-4o');
    m.recordRequest('openai-chat', 'openai', 503, 0.2, 'openai/gpt-4o');
    m.recordRequest('models', 'none', 200, 0.001);
    const req = await values(m, 'gateway_requests_total');
    expect(req).toEqual(
      expect.arrayContaining([
        {
          labels: {
            surface: 'openai-chat',
            provider: 'openai',
            model: 'openai/gpt-4o',
            status_class: '2xx',
          },
          value: 1,
        },
        {
          labels: {
            surface: 'openai-chat',
            provider: 'openai',
            model: 'openai/gpt-4o',
            status_class: '5xx',
          },
          value: 1,
        },
        {
          labels: { surface: 'models', provider: 'none', model: NONE_LABEL, status_class: '2xx' },
          value: 1,
        },
      ]),
    );
    for (let i = 0; i < MAX_MODEL_LABELS + 5; i++) {
      m.recordRequest('openai-chat', 'openai', 200, 0.1, `x-${i}`);
    }
    expect(distinct(await values(m, 'gateway_requests_total'), 'model').size).toBe(
      MAX_MODEL_LABELS + 2, // the cap, `none` and `other`
    );
  });
});
