import { findProvider } from '@/providers/registry';
import {
  COMBO_STRATEGIES,
  COMBO_STRATEGY_ALIASES,
  DEFAULT_MAX_COMBO_DEPTH,
  type ComboConfig,
  type ComboModelStep,
  type ComboRefStep,
  type ComboStep,
  type ComboStrategy,
  type ComboTarget,
} from './combo.types';

/**
 * Pure helpers behind combos: step normalisation and ids, strategy aliases, strict config parsing,
 * the reference-graph checks run on save, and target expansion. No I/O, no Nest.
 */

export interface FieldError {
  field: string;
  message: string;
}

export const COMBO_NAME_RE = /^[a-zA-Z0-9_/.-]+$/;
export const MAX_STEPS = 100;
const MAX_STEP_ID = 200;
const MAX_MODEL = 300;
const MAX_LABEL = 200;
const MAX_TAGS = 20;
const MAX_TAG = 50;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/** Lower-case letters and digits, every other run of characters becomes one '-'. */
export function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s || 'x';
}

/** `slug(combo)-model|ref-<index+1>-slug(target)`, at most 200 characters. */
export function stepId(
  comboName: string,
  kind: ComboStep['kind'],
  index: number,
  target: string,
): string {
  const id = `${slug(comboName)}-${kind === 'model' ? 'model' : 'ref'}-${index + 1}-${slug(target)}`;
  return id.length <= MAX_STEP_ID ? id : id.slice(0, MAX_STEP_ID).replace(/-+$/, '');
}

/** The canonical strategy for an input name or alias; undefined when unknown. */
export function normalizeStrategy(input: string): ComboStrategy | undefined {
  if ((COMBO_STRATEGIES as readonly string[]).includes(input)) {
    return input as ComboStrategy;
  }
  return Object.prototype.hasOwnProperty.call(COMBO_STRATEGY_ALIASES, input)
    ? COMBO_STRATEGY_ALIASES[input as keyof typeof COMBO_STRATEGY_ALIASES]
    : undefined;
}

/** Recomputes every step id for `comboName` (after a rename), keeping everything else. */
export function assignStepIds(
  comboName: string,
  steps: readonly (ComboStep | StepDraft)[],
): ComboStep[] {
  return steps.map((s, i) =>
    s.kind === 'model'
      ? { ...s, id: stepId(comboName, 'model', i, s.model) }
      : { ...s, id: stepId(comboName, 'combo-ref', i, s.comboName) },
  );
}

/** A step before its id is assigned. */
type StepDraft = Omit<ComboModelStep, 'id'> | Omit<ComboRefStep, 'id'>;

const MODEL_KEYS = new Set([
  'id',
  'kind',
  'model',
  'providerId',
  'connectionId',
  'weight',
  'label',
  'tags',
]);
const REF_KEYS = new Set(['id', 'kind', 'comboName', 'weight']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkModelString(v: unknown, field: string, errors: FieldError[]): v is string {
  if (typeof v !== 'string' || !v.trim()) {
    errors.push({ field, message: `${field} must be a non-empty string` });
    return false;
  }
  if (v.length > MAX_MODEL || CONTROL_RE.test(v)) {
    errors.push({
      field,
      message: `${field} must be at most ${MAX_MODEL} characters without control characters`,
    });
    return false;
  }
  return true;
}

function readWeight(o: Record<string, unknown>, field: string, errors: FieldError[]): number {
  if (o.weight === undefined || o.weight === null) {
    return 0;
  }
  if (
    typeof o.weight !== 'number' ||
    !Number.isFinite(o.weight) ||
    o.weight < 0 ||
    o.weight > 100
  ) {
    errors.push({ field: `${field}.weight`, message: 'weight must be a number from 0 to 100' });
    return 0;
  }
  return o.weight;
}

function readModelStep(
  o: Record<string, unknown>,
  field: string,
  errors: FieldError[],
): Omit<ComboModelStep, 'id'> | undefined {
  const before = errors.length;
  for (const k of Object.keys(o)) {
    if (!MODEL_KEYS.has(k)) {
      errors.push({ field: `${field}.${k}`, message: `unknown property ${k}` });
    }
  }
  const okModel = checkModelString(o.model, `${field}.model`, errors);
  let connectionId: string | null = null;
  if (o.connectionId !== undefined && o.connectionId !== null) {
    if (typeof o.connectionId === 'string' && UUID_RE.test(o.connectionId)) {
      connectionId = o.connectionId.toLowerCase();
    } else {
      errors.push({
        field: `${field}.connectionId`,
        message: 'connectionId must be a UUID or null',
      });
    }
  }
  let label: string | null = null;
  if (o.label !== undefined && o.label !== null) {
    if (typeof o.label === 'string' && o.label.length <= MAX_LABEL) {
      label = o.label;
    } else {
      errors.push({
        field: `${field}.label`,
        message: `label must be a string of at most ${MAX_LABEL} characters or null`,
      });
    }
  }
  const tags: string[] = [];
  if (o.tags !== undefined && o.tags !== null) {
    if (
      Array.isArray(o.tags) &&
      o.tags.length <= MAX_TAGS &&
      o.tags.every((t) => typeof t === 'string' && t.length >= 1 && t.length <= MAX_TAG)
    ) {
      for (const t of o.tags as string[]) {
        if (!tags.includes(t)) {
          tags.push(t);
        }
      }
    } else {
      errors.push({
        field: `${field}.tags`,
        message: `tags must be an array of at most ${MAX_TAGS} strings of 1 to ${MAX_TAG} characters`,
      });
    }
  }
  const weight = readWeight(o, field, errors);
  if (!okModel || errors.length > before) {
    return undefined;
  }
  return { kind: 'model', model: o.model as string, connectionId, weight, label, tags };
}

function readRefStep(
  o: Record<string, unknown>,
  field: string,
  errors: FieldError[],
): Omit<ComboRefStep, 'id'> | undefined {
  const before = errors.length;
  for (const k of Object.keys(o)) {
    if (!REF_KEYS.has(k)) {
      errors.push({ field: `${field}.${k}`, message: `unknown property ${k}` });
    }
  }
  const name = o.comboName;
  if (
    typeof name !== 'string' ||
    name.length < 1 ||
    name.length > 100 ||
    !COMBO_NAME_RE.test(name)
  ) {
    errors.push({
      field: `${field}.comboName`,
      message: 'comboName must be the name of an existing combo',
    });
  }
  const weight = readWeight(o, field, errors);
  return errors.length > before
    ? undefined
    : { kind: 'combo-ref', comboName: name as string, weight };
}

/**
 * Turns the `models` input into stored steps. A string containing '/' is a model step; a bare
 * string equal to a combo name in `comboNames` (which should include the combo's own name, so a
 * self-reference is caught as a cycle) is a combo-ref; any other bare string is a model step.
 * Objects are `{model, connectionId?, weight?, label?, tags?}` or `{kind:'combo-ref', comboName}`.
 * Step ids are (re)computed; an `id` on input is ignored.
 */
export function normalizeSteps(
  comboName: string,
  input: readonly unknown[],
  comboNames: ReadonlySet<string>,
): { steps: ComboStep[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const steps: StepDraft[] = [];
  if (input.length === 0) {
    errors.push({ field: 'models', message: 'models must contain at least one step' });
  }
  if (input.length > MAX_STEPS) {
    errors.push({ field: 'models', message: `models must contain at most ${MAX_STEPS} steps` });
    return { steps: [], errors };
  }
  input.forEach((raw, i) => {
    const field = `models.${i}`;
    if (typeof raw === 'string') {
      if (!checkModelString(raw, field, errors)) {
        return;
      }
      if (!raw.includes('/') && comboNames.has(raw)) {
        steps.push({ kind: 'combo-ref', comboName: raw, weight: 0 });
      } else {
        steps.push({
          kind: 'model',
          model: raw,
          connectionId: null,
          weight: 0,
          label: null,
          tags: [],
        });
      }
      return;
    }
    if (!isRecord(raw)) {
      errors.push({ field, message: 'each step must be a string or a step object' });
      return;
    }
    let step: StepDraft | undefined;
    if (raw.kind === 'combo-ref') {
      step = readRefStep(raw, field, errors);
    } else if (raw.kind === undefined || raw.kind === 'model') {
      step = readModelStep(raw, field, errors);
    } else {
      errors.push({ field: `${field}.kind`, message: "kind must be 'model' or 'combo-ref'" });
    }
    if (step) {
      steps.push(step);
    }
  });
  if (errors.length) {
    return { steps: [], errors };
  }
  return { steps: assignStepIds(comboName, steps), errors };
}

const CONFIG_LIMITS: Record<keyof Required<ComboConfig>, readonly [number, number]> = {
  maxRetries: [0, 10],
  retryDelayMs: [0, 60_000],
  maxComboDepth: [1, 5],
  timeoutMs: [1_000, 3_600_000],
};

/** Strict `config`: only the known keys, each an integer within its range. null/undefined → {}. */
export function parseComboConfig(raw: unknown): { config: ComboConfig; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const config: ComboConfig = {};
  if (raw === undefined || raw === null) {
    return { config, errors };
  }
  if (!isRecord(raw)) {
    return { config, errors: [{ field: 'config', message: 'config must be an object' }] };
  }
  for (const [k, v] of Object.entries(raw)) {
    if (!Object.prototype.hasOwnProperty.call(CONFIG_LIMITS, k)) {
      errors.push({
        field: `config.${k}`,
        message: `unknown config key ${k} (allowed: ${Object.keys(CONFIG_LIMITS).join(', ')})`,
      });
      continue;
    }
    const key = k as keyof ComboConfig;
    const [min, max] = CONFIG_LIMITS[key];
    if (v === undefined) {
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      errors.push({
        field: `config.${k}`,
        message: `${k} must be an integer from ${min} to ${max}`,
      });
      continue;
    }
    config[key] = v;
  }
  return { config, errors };
}

/** The depth limit a combo applies to its own expansion. */
export function maxDepthOf(config: ComboConfig): number {
  return config.maxComboDepth ?? DEFAULT_MAX_COMBO_DEPTH;
}

/** What the graph checks and the expansion need of a combo. */
export interface ComboNode {
  name: string;
  models: readonly ComboStep[];
  config: ComboConfig;
  isActive?: boolean;
  allowedProviders?: readonly string[];
}

export type GraphIssue =
  | { kind: 'missing'; combo: string; index: number; comboName: string }
  | { kind: 'cycle'; path: string[] }
  | { kind: 'depth'; combo: string; depth: number; max: number; chain: string[] };

function refsOf(node: ComboNode): string[] {
  return node.models
    .filter((s): s is ComboRefStep => s.kind === 'combo-ref')
    .map((s) => s.comboName);
}

/** A reference cycle reachable from `start`, as the names along it (first = last); else undefined. */
export function findCycle(
  nodes: ReadonlyMap<string, ComboNode>,
  start: string,
): string[] | undefined {
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const at = stack.indexOf(name);
    if (at >= 0) {
      return [...stack.slice(at), name];
    }
    const node = nodes.get(name);
    if (!node || done.has(name)) {
      return undefined;
    }
    stack.push(name);
    for (const ref of refsOf(node)) {
      const cycle = visit(ref);
      if (cycle) {
        return cycle;
      }
    }
    stack.pop();
    done.add(name);
    return undefined;
  };
  return visit(start);
}

/**
 * Nesting depth of every combo: the most combo-ref hops on a path below it (0 = no refs), with the
 * deepest chain of names. Missing refs count as leaves; a cycle edge counts as nothing.
 */
export function comboDepths(
  nodes: ReadonlyMap<string, ComboNode>,
): Map<string, { depth: number; chain: string[] }> {
  const memo = new Map<string, { depth: number; chain: string[] }>();
  const onStack = new Set<string>();
  const visit = (name: string): { depth: number; chain: string[] } => {
    const hit = memo.get(name);
    if (hit) {
      return hit;
    }
    const node = nodes.get(name);
    let best = { depth: 0, chain: [name] };
    if (node && !onStack.has(name)) {
      onStack.add(name);
      for (const ref of refsOf(node)) {
        if (!nodes.has(ref) || onStack.has(ref)) {
          continue;
        }
        const child = visit(ref);
        if (child.depth + 1 > best.depth) {
          best = { depth: child.depth + 1, chain: [name, ...child.chain] };
        }
      }
      onStack.delete(name);
      memo.set(name, best);
    }
    return best;
  };
  for (const name of nodes.keys()) {
    visit(name);
  }
  return memo;
}

/**
 * The save-time checks for the combo `changed` within the whole set `nodes` (already holding the
 * change): its own refs must exist, no cycle may pass through it, and neither it nor any combo
 * that reaches it may nest deeper than its own `maxComboDepth`.
 */
export function checkComboGraph(
  nodes: ReadonlyMap<string, ComboNode>,
  changed: string,
): GraphIssue[] {
  const node = nodes.get(changed);
  if (!node) {
    return [];
  }
  const issues: GraphIssue[] = [];
  node.models.forEach((s, index) => {
    if (s.kind === 'combo-ref' && !nodes.has(s.comboName)) {
      issues.push({ kind: 'missing', combo: changed, index, comboName: s.comboName });
    }
  });
  const cycle = findCycle(nodes, changed);
  if (cycle) {
    issues.push({ kind: 'cycle', path: cycle });
    return issues;
  }
  // Combos whose expansion includes `changed` (and `changed` itself).
  const reverse = new Map<string, string[]>();
  for (const n of nodes.values()) {
    for (const ref of refsOf(n)) {
      reverse.set(ref, [...(reverse.get(ref) ?? []), n.name]);
    }
  }
  const affected = new Set<string>([changed]);
  const queue = [changed];
  while (queue.length) {
    for (const parent of reverse.get(queue.shift()!) ?? []) {
      if (!affected.has(parent)) {
        affected.add(parent);
        queue.push(parent);
      }
    }
  }
  const depths = comboDepths(nodes);
  for (const name of affected) {
    const d = depths.get(name);
    const max = maxDepthOf(nodes.get(name)!.config);
    if (d && d.depth > max) {
      issues.push({ kind: 'depth', combo: name, depth: d.depth, max, chain: d.chain });
    }
  }
  return issues;
}

/** The provider prefix of a model string (text before the first '/'); undefined for a bare model. */
export function providerOf(model: string): string | undefined {
  const i = model.indexOf('/');
  return i > 0 ? model.slice(0, i) : undefined;
}

/** Built-in provider aliases and ids compare equal (`cc` = `claude`); anything else by lower case. */
export function providerKey(provider: string): string {
  return findProvider(provider)?.id ?? provider.toLowerCase();
}

/**
 * A combo's executable targets: combo-refs replaced by the referenced combo's targets,
 * depth-first in declared order. Referenced combos that are missing or inactive are skipped, as
 * are refs that would close a cycle or nest deeper than the top combo's `maxComboDepth`. A ref's
 * own weight is ignored (its children keep theirs). The top combo's `allowedProviders`, when
 * non-empty, keeps only targets whose provider prefix is listed (a bare model has none: dropped).
 */
export function expandTargets(
  top: ComboNode,
  lookup: (name: string) => ComboNode | undefined,
  keyOf: (provider: string) => string = providerKey,
): ComboTarget[] {
  const maxDepth = maxDepthOf(top.config);
  const out: ComboTarget[] = [];
  const ancestry = new Set<string>([top.name]);
  const walk = (node: ComboNode, path: readonly string[], level: number): void => {
    for (const step of node.models) {
      if (step.kind === 'model') {
        out.push({
          stepId: step.id,
          executionKey: [...path, step.id].join('>'),
          model: step.model,
          connectionId: step.connectionId,
          weight: step.weight,
          label: step.label,
          tags: [...step.tags],
        });
        continue;
      }
      if (level + 1 > maxDepth || ancestry.has(step.comboName)) {
        continue;
      }
      const child = lookup(step.comboName);
      if (!child || child.isActive === false) {
        continue;
      }
      ancestry.add(child.name);
      walk(child, [...path, step.id], level + 1);
      ancestry.delete(child.name);
    }
  };
  walk(top, [], 0);
  const allowed = top.allowedProviders ?? [];
  if (!allowed.length) {
    return out;
  }
  const keys = new Set(allowed.map(keyOf));
  return out.filter((t) => {
    const p = providerOf(t.model);
    return p !== undefined && keys.has(keyOf(p));
  });
}

/**
 * Steps as read back from storage: entries of an unexpected shape (a hand-edited row) are
 * dropped rather than trusted, optional fields get their defaults.
 */
export function storedSteps(raw: unknown): ComboStep[] {
  if (!Array.isArray(raw)) {
    return [];
  }
  const out: ComboStep[] = [];
  for (const s of raw as unknown[]) {
    if (!isRecord(s) || typeof s.id !== 'string') {
      continue;
    }
    const weight = typeof s.weight === 'number' && Number.isFinite(s.weight) ? s.weight : 0;
    if (s.kind === 'combo-ref' && typeof s.comboName === 'string') {
      out.push({ id: s.id, kind: 'combo-ref', comboName: s.comboName, weight });
    } else if (s.kind === 'model' && typeof s.model === 'string') {
      out.push({
        id: s.id,
        kind: 'model',
        model: s.model,
        connectionId: typeof s.connectionId === 'string' ? s.connectionId : null,
        weight,
        label: typeof s.label === 'string' ? s.label : null,
        tags: Array.isArray(s.tags) ? s.tags.filter((t): t is string => typeof t === 'string') : [],
      });
    }
  }
  return out;
}
