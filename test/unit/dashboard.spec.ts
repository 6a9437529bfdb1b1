/**
 * Static checks of the Grafana dashboard (API.md §6): it parses, uses a templated Prometheus
 * datasource, and every query names only metrics (and labels) that MetricsService registers, so a
 * renamed metric breaks this test instead of an empty panel in production.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import {
  DASHBOARDS,
  DASHBOARD_FILE as FILE,
  TARGET_LABELS,
  allPanels,
  parsePromQl,
  type DataSourceRef,
  type Dashboard,
} from '../support/dashboard';

const ROOT = join(__dirname, '..', '..');

const uidOf = (ds: DataSourceRef | string | undefined): string | undefined =>
  typeof ds === 'string' ? ds : ds?.uid;

const TEMPLATED = /^\$\{?datasource\}?$/;

describe('Grafana dashboard (charts/omniroute-gateway/dashboards)', () => {
  const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;
  const panels = allPanels(dashboard.panels);
  const queryPanels = panels.filter((p) => p.type !== 'row');
  const exprs = queryPanels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
  );
  const variables = dashboard.templating.list;

  /** Registered metric name → its label names (prom-client defaults included). */
  let registered: Map<string, { type: string; labels: string[] }>;
  beforeAll(async () => {
    const metrics = new MetricsService();
    registered = new Map(
      (await metrics.registry.getMetricsAsJSON()).map((m) => {
        const metric = metrics.registry.getSingleMetric(m.name) as unknown as {
          labelNames?: string[];
        };
        return [m.name, { type: String(m.type), labels: metric?.labelNames ?? [] }];
      }),
    );
  });

  /** The registered metric a series name belongs to (`_bucket/_sum/_count` of a histogram). */
  function resolve(name: string): { base: string; labels: string[] } | undefined {
    const exact = registered.get(name);
    if (exact) {
      return { base: name, labels: exact.labels };
    }
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    const base = m ? registered.get(m[1]) : undefined;
    if (!m || !base || !['histogram', 'summary'].includes(base.type)) {
      return undefined;
    }
    if (m[2] === 'bucket' && base.type !== 'histogram') {
      return undefined;
    }
    return { base: m[1], labels: m[2] === 'bucket' ? [...base.labels, 'le'] : base.labels };
  }

  it('is a Grafana 10+ dashboard with uid, title and a 30 s refresh', () => {
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toMatch(/\S/);
    expect(dashboard.refresh).toBe('30s');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('sits in the dashboards dir that compose and the chart load, with a unique uid', () => {
    const jsons = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
    expect(jsons).toContain('omniroute-gateway.json');
    const uids = jsons.map(
      (f) => (JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard).uid,
    );
    expect(new Set(uids).size).toBe(uids.length);
    expect(
      existsSync(
        join(
          ROOT,
          'charts/omniroute-gateway/files/grafana/provisioning/dashboards/omniroute-gateway.yml',
        ),
      ),
    ).toBe(true);
  });

  it('has a Prometheus datasource variable and provider / surface variables', () => {
    const ds = variables.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['provider', 'surface']) {
      const v = variables.find((x) => x.name === name);
      expect(v?.type).toBe('query');
      expect(uidOf(v?.datasource)).toMatch(TEMPLATED);
    }
  });

  it('uses the templated datasource everywhere (no hard-coded datasource uid)', () => {
    for (const p of queryPanels) {
      expect({ panel: p.title, uid: uidOf(p.datasource) }).toEqual({
        panel: p.title,
        uid: expect.stringMatching(TEMPLATED),
      });
      for (const t of p.targets ?? []) {
        if (t.datasource !== undefined) {
          expect({ panel: p.title, uid: uidOf(t.datasource) }).toEqual({
            panel: p.title,
            uid: expect.stringMatching(TEMPLATED),
          });
        }
      }
    }
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"prometheus"/);
  });

  it('has unique panel ids and unique refIds per panel, every query panel with a query', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of queryPanels) {
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect({ panel: p.title, n: refs.length > 0 }).toEqual({ panel: p.title, n: true });
      expect(new Set(refs).size).toBe(refs.length);
    }
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const boxes = panels.map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) {
      expect(b.x + b.w).toBeLessThanOrEqual(24);
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect({ a: a.title, b: b.title, overlap }).toEqual({
          a: a.title,
          b: b.title,
          overlap: false,
        });
      }
    }
  });

  it('queries only metrics that MetricsService registers (or prom-client defaults)', () => {
    expect(exprs.length).toBeGreaterThan(20);
    for (const { panel, expr } of exprs) {
      const { metrics } = parsePromQl(expr);
      expect({ panel, expr, hasMetric: metrics.length > 0 }).toEqual({
        panel,
        expr,
        hasMetric: true,
      });
      const unknown = metrics.filter((m) => !resolve(m));
      expect({ panel, expr, unknown }).toEqual({ panel, expr, unknown: [] });
    }
  });

  it('filters and groups only by labels those metrics have', () => {
    for (const { panel, expr } of exprs) {
      const { metrics, matchers, grouping } = parsePromQl(expr);
      for (const { metric, label } of matchers) {
        const labels = resolve(metric)?.labels ?? [];
        expect({
          panel,
          metric,
          label,
          known: labels.includes(label) || TARGET_LABELS.has(label),
        }).toEqual({
          panel,
          metric,
          label,
          known: true,
        });
      }
      const available = new Set(metrics.flatMap((m) => resolve(m)?.labels ?? []));
      for (const label of grouping) {
        expect({
          panel,
          expr,
          label,
          known: available.has(label) || TARGET_LABELS.has(label),
        }).toEqual({
          panel,
          expr,
          label,
          known: true,
        });
      }
    }
  });

  it('covers the API.md §4 metrics', () => {
    const used = new Set(
      exprs.flatMap(({ expr }) => parsePromQl(expr).metrics.map((m) => resolve(m)?.base)),
    );
    for (const name of [
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
      'gateway_policy_rejections_total',
      'gateway_usage_buffer_depth',
      'gateway_usage_dropped_total',
      'gateway_usage_written_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ]) {
      expect({ name, used: used.has(name) }).toEqual({ name, used: true });
    }
  });

  it('builds its variables from label_values of registered metrics', () => {
    for (const v of variables.filter((x) => x.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query;
      const m =
        /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(
          q ?? '',
        );
      expect({ name: v.name, q, parsed: !!m }).toEqual({ name: v.name, q, parsed: true });
      expect(resolve(m![1])?.labels).toContain(m![2]);
    }
  });

  it('parses PromQL the way the checks assume', () => {
    expect(
      parsePromQl(
        'histogram_quantile(0.95, sum by (le, provider) (rate(gateway_upstream_ttfb_seconds_bucket{provider=~"$provider"}[$__rate_interval]))) / clamp_min(sum(foo_total), 1e-9)',
      ),
    ).toEqual({
      metrics: ['gateway_upstream_ttfb_seconds_bucket', 'foo_total'],
      matchers: [{ metric: 'gateway_upstream_ttfb_seconds_bucket', label: 'provider' }],
      grouping: ['le', 'provider'],
    });
  });
});
