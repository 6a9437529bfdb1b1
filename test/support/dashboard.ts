/**
 * The Grafana dashboard's file and a small PromQL scan, shared by the static dashboard checks
 * (test/unit/dashboard.spec.ts) and the live check against /metrics (test/e2e/dashboard-metrics).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARDS = join(__dirname, '..', '..', 'charts', 'omniroute-gateway', 'dashboards');
export const DASHBOARD_FILE = join(DASHBOARDS, 'omniroute-gateway.json');

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  expr?: string;
  refId?: string;
  datasource?: DataSourceRef | string;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DataSourceRef | string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}

export interface Variable {
  type: string;
  name: string;
  query?: string | { query: string };
  datasource?: DataSourceRef | string;
}

export interface Dashboard {
  uid: string;
  title: string;
  refresh: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

/** PromQL words that are not metric names. */
export const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'group',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'histogram_quantile',
  'clamp_min',
  'clamp_max',
  'clamp',
  'abs',
  'ceil',
  'floor',
  'round',
  'sqrt',
  'exp',
  'ln',
  'log2',
  'log10',
  'vector',
  'scalar',
  'time',
  'absent',
  'changes',
  'resets',
  'label_replace',
  'label_join',
  'sort',
  'sort_desc',
  'avg_over_time',
  'max_over_time',
  'min_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'e',
  'inf',
  'nan',
]);

/** Labels Prometheus adds at scrape time. */
export const TARGET_LABELS = new Set(['instance', 'job']);

export interface ParsedExpr {
  metrics: string[];
  /** Label names used in `metric{…}` matchers, per metric. */
  matchers: { metric: string; label: string }[];
  /** Label names of `by (…)` / `without (…)` / `on (…)` clauses. */
  grouping: string[];
}

/** A small PromQL scan: enough to find metric names, matcher labels and grouping labels. */
export function parsePromQl(expr: string): ParsedExpr {
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const grouping: string[] = [];
  rest = rest.replace(
    /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_m, labels: string) => {
      grouping.push(
        ...labels
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean),
      );
      return ' ';
    },
  );
  const metrics: string[] = [];
  const matchers: { metric: string; label: string }[] = [];
  rest = rest.replace(
    /([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g,
    (_m, metric: string | undefined, body: string) => {
      if (!metric) {
        throw new Error(`selector without a metric name in: ${expr}`);
      }
      metrics.push(metric);
      for (const [, label] of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
        matchers.push({ metric, label });
      }
      return ' ';
    },
  );
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  for (const [word] of rest.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (!PROMQL_WORDS.has(word.toLowerCase())) {
      metrics.push(word);
    }
  }
  return { metrics, matchers, grouping };
}

export function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every PromQL expression of the dashboard's query panels, with its panel title. */
export function dashboardExprs(d: Dashboard = readDashboard()): { panel: string; expr: string }[] {
  return allPanels(d.panels)
    .filter((p) => p.type !== 'row')
    .flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));
}
