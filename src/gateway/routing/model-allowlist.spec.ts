import { isModelAllowed } from './model-allowlist';

describe(isModelAllowed.name, () => {
  it('allows every model when the list is empty', () => {
    expect(isModelAllowed([], 'openai/gpt-4o')).toBe(true);
    expect(isModelAllowed([])).toBe(true);
  });

  it('allows an exact id', () => {
    expect(isModelAllowed(['openai/gpt-4o'], 'openai/gpt-4o')).toBe(true);
  });

  it('refuses a model that matches no entry', () => {
    expect(isModelAllowed(['openai/gpt-4o'], 'openai/gpt-4o-mini')).toBe(false);
  });

  it('refuses when no names are given and the list is not empty', () => {
    expect(isModelAllowed(['*'])).toBe(false);
  });

  it('allows when any of the names matches (model as sent or qualified)', () => {
    expect(isModelAllowed(['openai/gpt-4o'], 'gpt-4o', 'openai/gpt-4o')).toBe(true);
    expect(isModelAllowed(['gpt-4o'], 'gpt-4o', 'openai/gpt-4o')).toBe(true);
  });

  it('matches a trailing * glob across slashes', () => {
    expect(isModelAllowed(['openai/*'], 'openai/gpt-4o')).toBe(true);
    expect(isModelAllowed(['openrouter/*'], 'openrouter/openai/gpt-4o')).toBe(true);
    expect(isModelAllowed(['openai/*'], 'groq/llama3')).toBe(false);
  });

  it('matches a leading * glob', () => {
    expect(isModelAllowed(['*-mini'], 'openai/gpt-4o-mini')).toBe(true);
    expect(isModelAllowed(['*-mini'], 'openai/gpt-4o')).toBe(false);
  });

  it('matches ? as exactly one character', () => {
    expect(isModelAllowed(['gpt-?o'], 'gpt-4o')).toBe(true);
    expect(isModelAllowed(['gpt-?o'], 'gpt-o')).toBe(false);
    expect(isModelAllowed(['gpt-?o'], 'gpt-45o')).toBe(false);
  });

  it('matches globs case-sensitively, like plain entries and model ids', () => {
    expect(isModelAllowed(['OpenAI/*'], 'openai/gpt-4o')).toBe(false);
    expect(isModelAllowed(['openai/*'], 'openai/gpt-4o')).toBe(true);
  });

  it('anchors globs at both ends', () => {
    expect(isModelAllowed(['gpt-4*'], 'openai/gpt-4o')).toBe(false);
    expect(isModelAllowed(['*gpt-4'], 'gpt-4o')).toBe(false);
  });

  it('treats regex metacharacters in a glob literally', () => {
    expect(isModelAllowed(['gpt-4.1*'], 'gpt-4.1-mini')).toBe(true);
    expect(isModelAllowed(['gpt-4.1*'], 'gpt-4x1-mini')).toBe(false);
    expect(isModelAllowed(['a+b(c)*'], 'a+b(c)-x')).toBe(true);
    expect(isModelAllowed(['a+b(c)*'], 'aab(c)-x')).toBe(false);
    expect(isModelAllowed(['[x]*'], '[x]y')).toBe(true);
    expect(isModelAllowed(['[x]*'], 'xy')).toBe(false);
  });

  it('does not read a plain entry as a pattern', () => {
    expect(isModelAllowed(['gpt-4.1'], 'gpt-4x1')).toBe(false);
  });
});
