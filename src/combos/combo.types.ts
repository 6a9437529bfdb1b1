/** Combos: one client-facing model name routed over several targets (reference §4.2, §5.3). */

export const COMBO_STRATEGIES = [
  'priority',
  'weighted',
  'round-robin',
  'random',
  'least-used',
  'lowest-latency',
  'cost-optimized',
] as const;
export type ComboStrategy = (typeof COMBO_STRATEGIES)[number];

/** Input spellings accepted on save and stored as their canonical strategy. */
export const COMBO_STRATEGY_ALIASES = {
  'fill-first': 'priority',
  usage: 'least-used',
  latency: 'lowest-latency',
  cost: 'cost-optimized',
} as const satisfies Record<string, ComboStrategy>;

/** Every value `strategy` accepts on input (canonical names and aliases). */
export const COMBO_STRATEGY_INPUTS: readonly string[] = [
  ...COMBO_STRATEGIES,
  ...Object.keys(COMBO_STRATEGY_ALIASES),
];

/** Nesting depth (combo-ref hops below the top combo) allowed when a combo sets none. */
export const DEFAULT_MAX_COMBO_DEPTH = 3;

export interface ComboModelStep {
  id: string;
  kind: 'model';
  /** `provider/model` (or a bare model name, resolved like any requested model). */
  model: string;
  /** Pins the step to one provider connection. */
  connectionId: string | null;
  /** 0..100, used by `weighted`. */
  weight: number;
  label: string | null;
  tags: string[];
}

export interface ComboRefStep {
  id: string;
  kind: 'combo-ref';
  comboName: string;
  weight: number;
}

export type ComboStep = ComboModelStep | ComboRefStep;

/** Per-combo runtime settings; unknown keys are refused on save. */
export interface ComboConfig {
  maxRetries?: number;
  retryDelayMs?: number;
  maxComboDepth?: number;
  timeoutMs?: number;
}

export interface Combo {
  id: string;
  name: string;
  version: 2;
  strategy: ComboStrategy;
  models: ComboStep[];
  config: ComboConfig;
  allowedProviders: string[];
  system_message: string | null;
  tool_filter_regex: string | null;
  context_length: number | null;
  isActive: boolean;
  isHidden: boolean;
  sortOrder: number;
  createdAt: string;
  updatedAt: string;
}

/** One executable target after expanding combo-refs (depth-first, in declared order). */
export interface ComboTarget {
  stepId: string;
  /** Step ids joined by '>' from the top combo down to this model step. */
  executionKey: string;
  model: string;
  connectionId: string | null;
  weight: number;
  label: string | null;
  tags: string[];
}
