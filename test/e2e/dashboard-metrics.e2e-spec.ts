/**
 * The Grafana dashboard against a live gateway (issue 8): after real traffic (chat stream and
 * non-stream, an upstream failure, an unknown model), every metric the dashboard queries is exposed
 * by GET /metrics, and the request/latency/token series its main panels plot carry samples.
 */
import { dashboardExprs, parsePromQl } from '../support/dashboard';
import { useGateway } from '../support/fixtures';
import { addMockNode, call } from '../support/gateway-client';

/** `# TYPE name type` lines and the names that have at least one sample line. */
function scrape(text: string): { types: Map<string, string>; sampled: Set<string> } {
  const types = new Map<string, string>();
  const sampled = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
    } else if (line && !line.startsWith('#')) {
      sampled.add(/^[^{ ]+/.exec(line)![0]);
    }
  }
  return { types, sampled };
}

/** The exposed metric a series name belongs to (`_bucket/_sum/_count` of a histogram). */
function exposedBase(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) {
    return name;
  }
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m && types.has(m[1]) ? m[1] : undefined;
}

describe('dashboard queries vs. a live /metrics', () => {
  const { gw, mock } = useGateway();

  beforeAll(async () => {
    await addMockNode(gw, 'dash', mock.baseUrl);
    const chat = (model: string, stream: boolean) =>
      call(gw, 'POST', '/v1/chat/completions', {
        body: { model, stream, messages: [{ role: 'user', content: 'hi' }] },
      });
    for (let i = 0; i < 3; i++) {
      expect((await chat('dash/gpt-4o-mini', false)).status).toBe(200);
      expect((await chat('dash/gpt-4o-mini', true)).status).toBe(200);
    }
    expect((await chat('dash/fail-500', false)).status).toBe(500);
    expect((await chat('nosuch/model', false)).status).toBe(404);
  });

  it('every metric the dashboard queries is exposed by /metrics', async () => {
    const r = await call(gw, 'GET', '/metrics', { key: null });
    expect(r.status).toBe(200);
    const { types } = scrape(r.text);
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    for (const { panel, expr } of exprs) {
      const missing = parsePromQl(expr).metrics.filter((m) => !exposedBase(m, types));
      expect({ panel, expr, missing }).toEqual({ panel, expr, missing: [] });
    }
  });

  it('the traffic panels plot series that have samples', async () => {
    const { types, sampled } = scrape((await call(gw, 'GET', '/metrics', { key: null })).text);
    const plotted = new Set(dashboardExprs().flatMap(({ expr }) => parsePromQl(expr).metrics));
    for (const name of [
      'gateway_requests_total',
      'gateway_request_duration_seconds_bucket',
      'gateway_upstream_ttfb_seconds_bucket',
      'gateway_overhead_seconds_bucket',
      'gateway_tokens_total',
      'process_resident_memory_bytes',
    ]) {
      expect({
        name,
        plotted: plotted.has(name) || plotted.has(name.replace(/_bucket$/, '_count')),
      }).toEqual({
        name,
        plotted: true,
      });
      expect({
        name,
        exposed: Boolean(exposedBase(name, types)),
        sampled: sampled.has(name),
      }).toEqual({
        name,
        exposed: true,
        sampled: true,
      });
    }
  });
});
