import {
  assignStepIds,
  checkComboGraph,
  comboDepths,
  expandTargets,
  findCycle,
  normalizeSteps,
  normalizeStrategy,
  parseComboConfig,
  providerKey,
  slug,
  stepId,
  storedSteps,
  type ComboNode,
} from './combo-steps';
import { COMBO_STRATEGIES, type ComboStep } from './combo.types';

/** A combo node from a list of step inputs (strings: '/'-less names of `others` become refs). */
function node(
  name: string,
  models: unknown[],
  extra: Partial<ComboNode> = {},
  others: string[] = [],
): ComboNode {
  const r = normalizeSteps(name, models, new Set([name, ...others]));
  if (r.errors.length) {
    throw new Error(JSON.stringify(r.errors));
  }
  return { name, models: r.steps, config: {}, ...extra };
}

function graph(...nodes: ComboNode[]): Map<string, ComboNode> {
  return new Map(nodes.map((n) => [n.name, n]));
}

describe(slug.name, () => {
  it('lower-cases and turns every run of other characters into one dash', () => {
    expect(slug('cc/claude-opus-4-6')).toBe('cc-claude-opus-4-6');
    expect(slug('My_Combo/v1.2')).toBe('my-combo-v1-2');
    expect(slug('--a//b..')).toBe('a-b');
  });

  it('never returns an empty slug', () => {
    expect(slug('___')).toBe('x');
  });
});

describe(stepId.name, () => {
  it('is slug(combo)-model|ref-<n>-slug(target), counting from 1', () => {
    expect(stepId('my-combo', 'model', 0, 'cc/claude-opus-4-6')).toBe(
      'my-combo-model-1-cc-claude-opus-4-6',
    );
    expect(stepId('my-combo', 'combo-ref', 1, 'other')).toBe('my-combo-ref-2-other');
  });

  it('is cut to 200 characters without a trailing dash', () => {
    const id = stepId('c'.repeat(100), 'model', 0, `p/${'m-'.repeat(150)}`);
    expect(id.length).toBeLessThanOrEqual(200);
    expect(id.endsWith('-')).toBe(false);
    expect(id.startsWith(`${'c'.repeat(100)}-model-1-p-`)).toBe(true);
  });
});

describe(normalizeStrategy.name, () => {
  it('keeps every canonical strategy', () => {
    for (const s of COMBO_STRATEGIES) {
      expect(normalizeStrategy(s)).toBe(s);
    }
  });

  it('maps the aliases to their canonical names', () => {
    expect(normalizeStrategy('fill-first')).toBe('priority');
    expect(normalizeStrategy('usage')).toBe('least-used');
    expect(normalizeStrategy('latency')).toBe('lowest-latency');
    expect(normalizeStrategy('cost')).toBe('cost-optimized');
  });

  it('returns undefined for anything else, including Object.prototype keys', () => {
    for (const s of ['fastest', 'Priority', '', 'toString', '__proto__']) {
      expect(normalizeStrategy(s)).toBeUndefined();
    }
  });
});

describe(normalizeSteps.name, () => {
  it('turns provider/model strings into model steps with defaults', () => {
    const r = normalizeSteps('c', ['openai/gpt-4o'], new Set(['c']));
    expect(r.errors).toEqual([]);
    expect(r.steps).toEqual([
      {
        id: 'c-model-1-openai-gpt-4o',
        kind: 'model',
        model: 'openai/gpt-4o',
        connectionId: null,
        weight: 0,
        label: null,
        tags: [],
      },
    ]);
  });

  it('makes a bare string naming a combo a combo-ref, any other bare string a model', () => {
    const r = normalizeSteps('top', ['fast', 'gpt-4o'], new Set(['top', 'fast']));
    expect(r.steps).toEqual([
      { id: 'top-ref-1-fast', kind: 'combo-ref', comboName: 'fast', weight: 0 },
      expect.objectContaining({ id: 'top-model-2-gpt-4o', kind: 'model', model: 'gpt-4o' }),
    ]);
  });

  it('never reads a string with "/" as a combo-ref, even when a combo has that name', () => {
    const r = normalizeSteps('top', ['auto/free'], new Set(['top', 'auto/free']));
    expect(r.steps[0]).toMatchObject({ kind: 'model', model: 'auto/free' });
  });

  it("reads the combo's own name as a self reference (caught later as a cycle)", () => {
    const r = normalizeSteps('self', ['self'], new Set(['self']));
    expect(r.steps[0]).toMatchObject({ kind: 'combo-ref', comboName: 'self' });
  });

  it('accepts step objects and ignores an id sent with them', () => {
    const conn = '6F1C2D3E-0000-4000-8000-000000000001';
    const r = normalizeSteps(
      'c',
      [
        {
          id: 'whatever',
          model: 'anthropic/claude',
          connectionId: conn,
          weight: 30,
          label: 'main',
          tags: ['fast', 'fast', 'cheap'],
        },
        { kind: 'combo-ref', comboName: 'other', weight: 5 },
      ],
      new Set(['c']),
    );
    expect(r.errors).toEqual([]);
    expect(r.steps).toEqual([
      {
        id: 'c-model-1-anthropic-claude',
        kind: 'model',
        model: 'anthropic/claude',
        connectionId: conn.toLowerCase(),
        weight: 30,
        label: 'main',
        tags: ['fast', 'cheap'],
      },
      { id: 'c-ref-2-other', kind: 'combo-ref', comboName: 'other', weight: 5 },
    ]);
  });

  it('lists every invalid field with its path', () => {
    const r = normalizeSteps(
      'c',
      [
        '',
        42,
        { model: 'a/b', weight: 101 },
        { model: 'a/b', connectionId: 'nope', tags: 'x' },
        { model: 'a/b', surprise: true },
        { kind: 'combo-ref', comboName: 'bad name!' },
        { kind: 'other' },
        { weight: 1 },
      ],
      new Set(['c']),
    );
    expect(r.steps).toEqual([]);
    expect(r.errors.map((e) => e.field)).toEqual([
      'models.0',
      'models.1',
      'models.2.weight',
      'models.3.connectionId',
      'models.3.tags',
      'models.4.surprise',
      'models.5.comboName',
      'models.6.kind',
      'models.7.model',
    ]);
  });

  it('refuses an empty list and more than 100 steps', () => {
    expect(normalizeSteps('c', [], new Set()).errors).toEqual([
      { field: 'models', message: expect.stringContaining('at least one') },
    ]);
    const many = Array.from({ length: 101 }, (_, i) => `p/m${i}`);
    expect(normalizeSteps('c', many, new Set()).errors[0].field).toBe('models');
  });

  it('refuses control characters and models longer than 300 characters', () => {
    const r = normalizeSteps('c', ['a/b\u0000', `a/${'m'.repeat(300)}`], new Set());
    expect(r.errors.map((e) => e.field)).toEqual(['models.0', 'models.1']);
  });
});

describe(assignStepIds.name, () => {
  it('recomputes ids for a new combo name and keeps the rest', () => {
    const { steps } = normalizeSteps('old', ['p/m', 'x'], new Set(['old', 'x']));
    expect(assignStepIds('new', steps)).toEqual([
      { ...steps[0], id: 'new-model-1-p-m' },
      { ...steps[1], id: 'new-ref-2-x' },
    ]);
  });
});

describe(parseComboConfig.name, () => {
  it('keeps known keys within their ranges', () => {
    const raw = { maxRetries: 0, retryDelayMs: 60000, maxComboDepth: 5, timeoutMs: 1000 };
    expect(parseComboConfig(raw)).toEqual({ config: raw, errors: [] });
  });

  it('treats null and undefined as an empty config', () => {
    expect(parseComboConfig(null)).toEqual({ config: {}, errors: [] });
    expect(parseComboConfig(undefined)).toEqual({ config: {}, errors: [] });
  });

  it('refuses unknown keys, out-of-range and non-integer values, non-objects', () => {
    const r = parseComboConfig({
      maxRetries: 11,
      retryDelayMs: -1,
      maxComboDepth: 0,
      timeoutMs: 999.5,
      concurrencyPerModel: 3,
    });
    expect(r.errors.map((e) => e.field)).toEqual([
      'config.maxRetries',
      'config.retryDelayMs',
      'config.maxComboDepth',
      'config.timeoutMs',
      'config.concurrencyPerModel',
    ]);
    expect(parseComboConfig([]).errors).toEqual([
      { field: 'config', message: 'config must be an object' },
    ]);
    expect(parseComboConfig({ maxRetries: '1' }).errors[0].field).toBe('config.maxRetries');
  });
});

describe(findCycle.name, () => {
  it('finds a self reference', () => {
    expect(findCycle(graph(node('a', ['a'])), 'a')).toEqual(['a', 'a']);
  });

  it('finds a longer cycle through the start', () => {
    const g = graph(
      node('a', ['b'], {}, ['b']),
      node('b', ['c'], {}, ['c']),
      node('c', ['a'], {}, ['a']),
    );
    expect(findCycle(g, 'a')).toEqual(['a', 'b', 'c', 'a']);
  });

  it('accepts a diamond (shared child, no cycle)', () => {
    const g = graph(
      node('a', ['b', 'c'], {}, ['b', 'c']),
      node('b', ['d'], {}, ['d']),
      node('c', ['d'], {}, ['d']),
      node('d', ['p/m']),
    );
    expect(findCycle(g, 'a')).toBeUndefined();
  });
});

describe(comboDepths.name, () => {
  it('counts combo-ref hops below each combo (missing refs are leaves)', () => {
    const g = graph(
      node('a', ['b', 'p/m'], {}, ['b']),
      node('b', ['c', 'gone'], {}, ['c', 'gone']),
      node('c', ['p/m']),
    );
    const d = comboDepths(g);
    expect(d.get('a')).toEqual({ depth: 2, chain: ['a', 'b', 'c'] });
    expect(d.get('b')?.depth).toBe(1);
    expect(d.get('c')?.depth).toBe(0);
  });
});

describe(checkComboGraph.name, () => {
  it('reports refs to combos that do not exist, with their index', () => {
    const g = graph(node('a', ['p/m', { kind: 'combo-ref', comboName: 'nope' }]));
    expect(checkComboGraph(g, 'a')).toEqual([
      { kind: 'missing', combo: 'a', index: 1, comboName: 'nope' },
    ]);
  });

  it('reports a cycle through the changed combo', () => {
    const g = graph(node('a', ['b'], {}, ['b']), node('b', ['a'], {}, ['a']));
    expect(checkComboGraph(g, 'b')).toEqual([{ kind: 'cycle', path: ['b', 'a', 'b'] }]);
  });

  it('allows 3 levels of nesting by default and refuses a 4th', () => {
    const chain = (n: number): ComboNode[] =>
      Array.from({ length: n + 1 }, (_, i) =>
        i === n ? node(`c${i}`, ['p/m']) : node(`c${i}`, [`c${i + 1}`], {}, [`c${i + 1}`]),
      );
    expect(checkComboGraph(graph(...chain(3)), 'c0')).toEqual([]);
    expect(checkComboGraph(graph(...chain(4)), 'c0')).toEqual([
      { kind: 'depth', combo: 'c0', depth: 4, max: 3, chain: ['c0', 'c1', 'c2', 'c3', 'c4'] },
    ]);
  });

  it('uses each combo its own maxComboDepth', () => {
    const g = graph(
      node('a', ['b'], { config: { maxComboDepth: 1 } }, ['b']),
      node('b', ['c'], {}, ['c']),
      node('c', ['p/m']),
    );
    expect(checkComboGraph(g, 'a')).toEqual([
      expect.objectContaining({ kind: 'depth', combo: 'a', depth: 2, max: 1 }),
    ]);
  });

  it('checks the combos that reach the changed one (deepening a child breaks its parent)', () => {
    // c gains a ref to d: a → b → c → d → e is 4 deep for a.
    const g = graph(
      node('a', ['b'], {}, ['b']),
      node('b', ['c'], {}, ['c']),
      node('c', ['d'], {}, ['d']),
      node('d', ['e'], {}, ['e']),
      node('e', ['p/m']),
      node('unrelated', ['p/m']),
    );
    expect(checkComboGraph(g, 'c')).toEqual([
      expect.objectContaining({ kind: 'depth', combo: 'a' }),
    ]);
  });
});

describe(expandTargets.name, () => {
  const lookupIn =
    (g: Map<string, ComboNode>) =>
    (name: string): ComboNode | undefined =>
      g.get(name);

  it('expands refs depth-first in declared order with execution keys from the top', () => {
    const g = graph(
      node('top', ['p/a', { kind: 'combo-ref', comboName: 'mid', weight: 99 }, 'p/z'], {}, ['mid']),
      node('mid', [{ model: 'q/b', weight: 7, label: 'B', tags: ['t'] }, 'leaf'], {}, ['leaf']),
      node('leaf', ['r/c']),
    );
    const t = expandTargets(g.get('top')!, lookupIn(g));
    expect(t.map((x) => x.model)).toEqual(['p/a', 'q/b', 'r/c', 'p/z']);
    expect(t[1]).toEqual({
      stepId: 'mid-model-1-q-b',
      executionKey: 'top-ref-2-mid>mid-model-1-q-b',
      model: 'q/b',
      connectionId: null,
      weight: 7, // the child's weight, not the ref's 99
      label: 'B',
      tags: ['t'],
    });
    expect(t[2].executionKey).toBe('top-ref-2-mid>mid-ref-2-leaf>leaf-model-1-r-c');
    expect(t[0].executionKey).toBe('top-model-1-p-a');
  });

  it('skips inactive and missing referenced combos', () => {
    const g = graph(
      node('top', ['off', 'gone', 'p/a'], {}, ['off', 'gone']),
      node('off', ['q/b'], { isActive: false }),
    );
    expect(expandTargets(g.get('top')!, lookupIn(g)).map((x) => x.model)).toEqual(['p/a']);
  });

  it('never loops on a cycle and stops at the top combo maxComboDepth', () => {
    const cyc = graph(node('a', ['b', 'p/a'], {}, ['b']), node('b', ['a', 'q/b'], {}, ['a']));
    expect(expandTargets(cyc.get('a')!, lookupIn(cyc)).map((x) => x.model)).toEqual(['q/b', 'p/a']);
    const deep = graph(
      node('a', ['b'], { config: { maxComboDepth: 1 } }, ['b']),
      node('b', ['c', 'q/b'], {}, ['c']),
      node('c', ['r/c']),
    );
    expect(expandTargets(deep.get('a')!, lookupIn(deep)).map((x) => x.model)).toEqual(['q/b']);
  });

  it('keeps only allowedProviders of the top combo, matching built-in aliases and ids', () => {
    const g = graph(
      node(
        'top',
        ['openai/gpt-4o', 'groq/llama', 'mid', 'bare-model', 'ds/deepseek-chat'],
        { allowedProviders: ['OpenAI', 'node-x', 'deepseek'] },
        ['mid'],
      ),
      node('mid', ['node-x/m', 'groq/other'], { allowedProviders: ['groq'] }),
    );
    expect(expandTargets(g.get('top')!, lookupIn(g)).map((x) => x.model)).toEqual([
      'openai/gpt-4o',
      'node-x/m',
      'ds/deepseek-chat',
    ]);
  });

  it('copies tags so a caller cannot change the stored step', () => {
    const g = graph(node('top', [{ model: 'p/a', tags: ['x'] }]));
    const [t] = expandTargets(g.get('top')!, lookupIn(g));
    t.tags.push('y');
    expect((g.get('top')!.models[0] as Extract<ComboStep, { kind: 'model' }>).tags).toEqual(['x']);
  });
});

describe(providerKey.name, () => {
  it('gives a built-in alias and its id the same key, others their lower case', () => {
    expect(providerKey('ds')).toBe('deepseek');
    expect(providerKey('DeepSeek')).toBe('deepseek');
    expect(providerKey('My-Node')).toBe('my-node');
  });
});

describe(storedSteps.name, () => {
  it('drops malformed entries and fills defaults', () => {
    expect(
      storedSteps([
        { id: 'a', kind: 'model', model: 'p/m' },
        { id: 'b', kind: 'combo-ref', comboName: 'x', weight: 'heavy' },
        { kind: 'model', model: 'no-id' },
        'junk',
        null,
      ]),
    ).toEqual([
      {
        id: 'a',
        kind: 'model',
        model: 'p/m',
        connectionId: null,
        weight: 0,
        label: null,
        tags: [],
      },
      { id: 'b', kind: 'combo-ref', comboName: 'x', weight: 0 },
    ]);
    expect(storedSteps({})).toEqual([]);
  });
});
