import {
  LatencyHistogram,
  SortedDistribution,
  type Distribution,
  type HistogramWire,
} from './latency-histogram';
import { isErrorStatus, type TelemetrySample } from './telemetry-ring';

/** Requests of one group (everything, a provider, a surface) and their latency distributions. */
export interface Tally<D extends Distribution = Distribution> {
  errors: number;
  total: D;
  ttfb: D;
  overhead: D;
}

export interface PhaseFigures {
  count: number;
  p50: number;
  p95: number;
  avg: number;
}

export interface GroupFigures {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  avg: number;
  /** 5xx and 429 answers, percent of `count`. */
  errorRate: number;
}

export interface LatencyFigures extends GroupFigures {
  phaseBreakdown: { upstream_ttfb: PhaseFigures; gateway_overhead: PhaseFigures };
  providers: Record<string, GroupFigures>;
  surfaces: Record<string, GroupFigures>;
}

/** Milliseconds and percents with two decimals: sub-millisecond overheads stay visible. */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

function phase(d: Distribution): PhaseFigures {
  return {
    count: d.count,
    p50: round2(d.percentile(50)),
    p95: round2(d.percentile(95)),
    avg: round2(d.avg()),
  };
}

function group(t: Tally): GroupFigures {
  const n = t.total.count;
  return {
    count: n,
    p50: round2(t.total.percentile(50)),
    p95: round2(t.total.percentile(95)),
    p99: round2(t.total.percentile(99)),
    avg: round2(t.total.avg()),
    errorRate: n ? round2((t.errors / n) * 100) : 0,
  };
}

/** Groups keyed by name, sorted by name so answers are stable. */
function byName(m: Map<string, Tally>): Record<string, GroupFigures> {
  const out: Record<string, GroupFigures> = {};
  for (const name of [...m.keys()].sort()) {
    out[name] = group(m.get(name)!);
  }
  return out;
}

/** Groups the tallies into the summary's latency figures. */
export function figures(
  all: Tally,
  providers: Map<string, Tally>,
  surfaces: Map<string, Tally>,
): LatencyFigures {
  return {
    ...group(all),
    phaseBreakdown: { upstream_ttfb: phase(all.ttfb), gateway_overhead: phase(all.overhead) },
    providers: byName(providers),
    surfaces: byName(surfaces),
  };
}

// ---- exact: one replica's raw samples ---------------------------------------------------------

const sortedTally = (): Tally<SortedDistribution> => ({
  errors: 0,
  total: new SortedDistribution(),
  ttfb: new SortedDistribution(),
  overhead: new SortedDistribution(),
});

function addSample(t: Tally<SortedDistribution>, s: TelemetrySample): void {
  if (isErrorStatus(s.status)) {
    t.errors++;
  }
  t.total.add(s.totalMs);
  if (s.ttfbMs !== null) {
    t.ttfb.add(s.ttfbMs);
  }
  if (s.overheadMs !== null) {
    t.overhead.add(s.overheadMs);
  }
}

/** Exact nearest-rank figures over raw samples. */
export function exactFigures(samples: Iterable<TelemetrySample>): LatencyFigures {
  const all = sortedTally();
  const providers = new Map<string, Tally<SortedDistribution>>();
  const surfaces = new Map<string, Tally<SortedDistribution>>();
  for (const s of samples) {
    addSample(all, s);
    let p = providers.get(s.provider);
    if (!p) {
      p = sortedTally();
      providers.set(s.provider, p);
    }
    addSample(p, s);
    let f = surfaces.get(s.surface);
    if (!f) {
      f = sortedTally();
      surfaces.set(s.surface, f);
    }
    addSample(f, s);
  }
  return figures(all, providers, surfaces);
}

// ---- mergeable: histograms per (provider, surface) --------------------------------------------

/** One (provider, surface) cell of a time slice: mergeable across replicas. */
export class HistogramCell implements Tally<LatencyHistogram> {
  errors = 0;
  readonly total = new LatencyHistogram();
  readonly ttfb = new LatencyHistogram();
  readonly overhead = new LatencyHistogram();

  constructor(
    readonly provider: string,
    readonly surface: string,
  ) {}

  add(s: TelemetrySample): void {
    if (isErrorStatus(s.status)) {
      this.errors++;
    }
    this.total.add(s.totalMs);
    if (s.ttfbMs !== null) {
      this.ttfb.add(s.ttfbMs);
    }
    if (s.overheadMs !== null) {
      this.overhead.add(s.overheadMs);
    }
  }

  merge(o: Tally<LatencyHistogram>): void {
    this.errors += o.errors;
    this.total.merge(o.total);
    this.ttfb.merge(o.ttfb);
    this.overhead.merge(o.overhead);
  }

  /** `[provider, surface, errors, total, ttfb, overhead]`. */
  toWire(): [string, string, number, HistogramWire, HistogramWire, HistogramWire] {
    return [
      this.provider,
      this.surface,
      this.errors,
      this.total.toWire(),
      this.ttfb.toWire(),
      this.overhead.toWire(),
    ];
  }

  /** Undefined for anything that is not a cell's wire form. */
  static fromWire(wire: unknown): HistogramCell | undefined {
    if (!Array.isArray(wire) || wire.length !== 6) {
      return undefined;
    }
    const [provider, surface, errors, total, ttfb, overhead] = wire as unknown[];
    if (typeof provider !== 'string' || typeof surface !== 'string' || typeof errors !== 'number') {
      return undefined;
    }
    const cell = new HistogramCell(provider, surface);
    cell.total.merge(LatencyHistogram.fromWire(total));
    cell.ttfb.merge(LatencyHistogram.fromWire(ttfb));
    cell.overhead.merge(LatencyHistogram.fromWire(overhead));
    cell.errors = Math.min(Math.max(0, Math.floor(errors)), cell.total.count);
    return cell;
  }
}

/** Figures from merged cells: percentiles from the merged histograms (±2 %), counts exact. */
export function histogramFigures(cells: Iterable<HistogramCell>): LatencyFigures {
  const all = new HistogramCell('', '');
  const providers = new Map<string, HistogramCell>();
  const surfaces = new Map<string, HistogramCell>();
  for (const c of cells) {
    all.merge(c);
    let p = providers.get(c.provider);
    if (!p) {
      p = new HistogramCell(c.provider, '');
      providers.set(c.provider, p);
    }
    p.merge(c);
    let f = surfaces.get(c.surface);
    if (!f) {
      f = new HistogramCell('', c.surface);
      surfaces.set(c.surface, f);
    }
    f.merge(c);
  }
  return figures(all, providers, surfaces);
}
