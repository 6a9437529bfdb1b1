import { AliasIndex, aliasProblem, sanitizeAliases } from './aliases';

describe(aliasProblem.name, () => {
  it.each([
    ['fast'],
    ['gpt-4o'],
    ['claude-3.5-sonnet'],
    ['my_alias:v2'],
    ['gpt-4*'],
    ['*-mini'],
    ['a'],
    ['x'.repeat(100)],
  ])('accepts %p', (alias) => {
    expect(aliasProblem(alias)).toBeUndefined();
  });

  it.each([
    [''],
    ['openai/gpt-4o'],
    ['has space'],
    ['x'.repeat(101)],
    ['emoji-🙂'],
    ['semi;colon'],
    ['a+b'],
    ['(group)'],
    [42],
    [null],
    [undefined],
    [{ alias: 'x' }],
  ])('refuses the malformed %p', (alias) => {
    expect(aliasProblem(alias)).toBe(
      'alias must be 1-100 characters of letters, digits, . _ : - or * (no "/")',
    );
  });

  it.each([['__proto__'], ['constructor'], ['prototype']])('refuses %p', (alias) => {
    expect(aliasProblem(alias)).toBe(`"${alias}" is not allowed as an alias`);
  });

  it.each([['*'], ['**'], ['*****']])('refuses the wildcards-only %p', (alias) => {
    expect(aliasProblem(alias)).toBe('an alias must contain more than wildcards');
  });
});

describe(sanitizeAliases.name, () => {
  it('keeps the good entries', () => {
    const map = { fast: 'openai/gpt-4o-mini', 'claude-*': 'anthropic/claude-sonnet-4-5' };
    expect(sanitizeAliases(map)).toEqual(map);
  });

  it('drops bad names and bad targets', () => {
    expect(
      sanitizeAliases({
        good: 'openai/gpt-4o',
        'bad/name': 'openai/gpt-4o',
        '*': 'openai/gpt-4o',
        constructor: 'openai/gpt-4o',
        empty: '',
        number: 5,
        nul: null,
        object: { target: 'openai/gpt-4o' },
        long: 'x'.repeat(301),
        max: 'y'.repeat(300),
      }),
    ).toEqual({ good: 'openai/gpt-4o', max: 'y'.repeat(300) });
  });

  it('drops an own __proto__ key (from JSON) without touching the prototype', () => {
    const raw: unknown = JSON.parse('{"__proto__": "openai/gpt-4o", "ok": "openai/o3"}');
    const out = sanitizeAliases(raw);
    expect(Object.keys(out)).toEqual(['ok']);
    expect(Object.hasOwn(out, '__proto__')).toBe(false);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).ok).toBeUndefined();
  });

  it.each([[null], [undefined], ['fast=openai/gpt-4o'], [42], [['fast', 'openai/gpt-4o']]])(
    'is empty for %p',
    (raw) => {
      expect(sanitizeAliases(raw)).toEqual({});
    },
  );
});

describe(AliasIndex.name, () => {
  it('finds an exact name', () => {
    const idx = new AliasIndex({ fast: 'openai/gpt-4o-mini', smart: 'openai/o3' });
    expect(idx.lookup('fast')).toEqual({ alias: 'fast', target: 'openai/gpt-4o-mini' });
    expect(idx.lookup('smart')).toEqual({ alias: 'smart', target: 'openai/o3' });
    expect(idx.lookup('slow')).toBeUndefined();
  });

  it('finds a name case-insensitively, the exact spelling first', () => {
    const idx = new AliasIndex({ Fast: 'openai/gpt-4o-mini', fast: 'groq/llama-3.1-8b-instant' });
    expect(idx.lookup('Fast')).toEqual({ alias: 'Fast', target: 'openai/gpt-4o-mini' });
    expect(idx.lookup('fast')).toEqual({ alias: 'fast', target: 'groq/llama-3.1-8b-instant' });
    // neither spelling: the first one of the map
    expect(idx.lookup('FAST')).toEqual({ alias: 'Fast', target: 'openai/gpt-4o-mini' });
  });

  it('an exact or case-insensitive name wins over a glob', () => {
    const idx = new AliasIndex({ 'gpt-*': 'openrouter/openai/gpt-4o', 'gpt-4o': 'openai/gpt-4o' });
    expect(idx.lookup('gpt-4o')).toEqual({ alias: 'gpt-4o', target: 'openai/gpt-4o' });
    expect(idx.lookup('GPT-4O')).toEqual({ alias: 'gpt-4o', target: 'openai/gpt-4o' });
    expect(idx.lookup('gpt-4.1')).toEqual({ alias: 'gpt-*', target: 'openrouter/openai/gpt-4o' });
  });

  it('matches a glob anywhere, case-insensitively, whole name only', () => {
    const idx = new AliasIndex({
      'claude-*': 'anthropic/claude-sonnet-4-5',
      '*-mini': 'openai/gpt-4o-mini',
      'llama*70b*': 'groq/llama-3.3-70b-versatile',
    });
    expect(idx.lookup('claude-opus')?.alias).toBe('claude-*');
    expect(idx.lookup('CLAUDE-X')?.alias).toBe('claude-*');
    expect(idx.lookup('o4-mini')?.alias).toBe('*-mini');
    expect(idx.lookup('llama-3.3-70b-instruct')?.alias).toBe('llama*70b*');
    expect(idx.lookup('my-claude-x')).toBeUndefined();
    expect(idx.lookup('o4-mini-high')).toBeUndefined();
    // `*` matches an empty run as well
    expect(idx.lookup('claude-')?.alias).toBe('claude-*');
  });

  it('the most specific glob (most literal characters) wins', () => {
    const idx = new AliasIndex({
      'gpt-*': 'a',
      'gpt-4*': 'b',
      'gpt-4o*': 'c',
    });
    expect(idx.lookup('gpt-4o-mini')).toEqual({ alias: 'gpt-4o*', target: 'c' });
    expect(idx.lookup('gpt-4.1')).toEqual({ alias: 'gpt-4*', target: 'b' });
    expect(idx.lookup('gpt-3.5-turbo')).toEqual({ alias: 'gpt-*', target: 'a' });
  });

  it('does not depend on the map order', () => {
    const a = new AliasIndex({ 'gpt-*': 'a', 'gpt-4o*': 'c' });
    const b = new AliasIndex({ 'gpt-4o*': 'c', 'gpt-*': 'a' });
    expect(a.lookup('gpt-4o-mini')).toEqual(b.lookup('gpt-4o-mini'));
    expect(a.lookup('gpt-4o-mini')?.alias).toBe('gpt-4o*');
  });

  it('breaks a tie of specificity by name, whatever the map order', () => {
    // '*bc*cd*' and '*cd*bc*' both have 4 literal characters and match; 'x*cd*' has 3
    const model = 'x-bc-cd-bc-y';
    const forward = new AliasIndex({ '*bc*cd*': 'first', '*cd*bc*': 'second', 'x*cd*': 'third' });
    const backward = new AliasIndex({ 'x*cd*': 'third', '*cd*bc*': 'second', '*bc*cd*': 'first' });
    expect(forward.lookup(model)).toEqual({ alias: '*bc*cd*', target: 'first' });
    expect(backward.lookup(model)).toEqual({ alias: '*bc*cd*', target: 'first' });
    expect(backward.lookup('x-cd-bc')).toEqual({ alias: '*cd*bc*', target: 'second' });
  });

  it('takes regular-expression characters in an alias literally', () => {
    const idx = new AliasIndex({ 'gpt-4.1*': 'openai/gpt-4.1' });
    expect(idx.lookup('gpt-4.1-mini')?.alias).toBe('gpt-4.1*');
    expect(idx.lookup('gpt-4x1-mini')).toBeUndefined();
    expect(idx.lookup('gpt-4.11')?.alias).toBe('gpt-4.1*');

    // names outside what aliasProblem allows, built straight from a map
    const odd = new AliasIndex({
      'a+b*': 't1',
      '(x)*': 't2',
      'q?*': 't3',
      '[ab]*': 't4',
      '^$|*': 't5',
      'back\\*': 't6',
    });
    expect(odd.lookup('a+b-1')?.target).toBe('t1');
    expect(odd.lookup('aab-1')).toBeUndefined();
    expect(odd.lookup('(x)-1')?.target).toBe('t2');
    expect(odd.lookup('x-1')).toBeUndefined();
    expect(odd.lookup('q?1')?.target).toBe('t3');
    expect(odd.lookup('1')).toBeUndefined();
    expect(odd.lookup('[ab]z')?.target).toBe('t4');
    expect(odd.lookup('az')).toBeUndefined();
    expect(odd.lookup('^$|anything')?.target).toBe('t5');
    expect(odd.lookup('back\\slash')?.target).toBe('t6');
  });

  it('a model spelled with * only matches globs', () => {
    const idx = new AliasIndex({ 'gpt-*': 'a' });
    expect(idx.lookup('gpt-*')).toEqual({ alias: 'gpt-*', target: 'a' });
    expect(new AliasIndex({ 'x*': 'a' }).lookup('y*')).toBeUndefined();
  });

  it('does not see inherited properties as aliases', () => {
    const idx = new AliasIndex({ fast: 'openai/gpt-4o-mini' });
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(idx.lookup(name)).toBeUndefined();
    }
  });

  it('an empty map finds nothing', () => {
    expect(new AliasIndex({}).lookup('anything')).toBeUndefined();
    expect(new AliasIndex(sanitizeAliases(null)).lookup('')).toBeUndefined();
  });
});
