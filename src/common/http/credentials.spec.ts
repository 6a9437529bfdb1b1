import { extractApiKey, readCookie } from './credentials';

describe(extractApiKey.name, () => {
  it('reads a Bearer token', () => {
    expect(extractApiKey({ authorization: 'Bearer sk-abc' })).toBe('sk-abc');
  });

  it.each(['bearer sk-abc', 'BEARER sk-abc', 'BeArEr   sk-abc  ', '  Bearer sk-abc'])(
    'reads the scheme case-insensitively and trims (%j)',
    (authorization) => {
      expect(extractApiKey({ authorization })).toBe('sk-abc');
    },
  );

  it('reads x-api-key (Anthropic)', () => {
    expect(extractApiKey({ 'x-api-key': 'sk-ant' })).toBe('sk-ant');
  });

  it('reads x-goog-api-key (Gemini)', () => {
    expect(extractApiKey({ 'x-goog-api-key': 'sk-goog' })).toBe('sk-goog');
  });

  it('reads ?key= (Gemini)', () => {
    expect(extractApiKey({}, { key: 'sk-query' })).toBe('sk-query');
  });

  it('prefers Bearer over x-api-key over x-goog-api-key over ?key=', () => {
    const all = {
      authorization: 'Bearer sk-1',
      'x-api-key': 'sk-2',
      'x-goog-api-key': 'sk-3',
    };
    expect(extractApiKey(all, { key: 'sk-4' })).toBe('sk-1');
    expect(extractApiKey({ ...all, authorization: undefined }, { key: 'sk-4' })).toBe('sk-2');
    expect(extractApiKey({ 'x-goog-api-key': 'sk-3' }, { key: 'sk-4' })).toBe('sk-3');
  });

  it('falls through to x-api-key when Authorization is not a Bearer token', () => {
    expect(extractApiKey({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'sk-2' })).toBe(
      'sk-2',
    );
    expect(extractApiKey({ authorization: 'Bearer ', 'x-api-key': 'sk-2' })).toBe('sk-2');
  });

  it('returns undefined when no credential is present', () => {
    expect(extractApiKey({})).toBeUndefined();
    expect(extractApiKey({ authorization: 'Basic abc' })).toBeUndefined();
    expect(extractApiKey({ 'x-api-key': '' }, { key: '' })).toBeUndefined();
  });

  it('ignores a non-string ?key= (repeated parameter) and a missing query', () => {
    expect(extractApiKey({}, { key: ['a', 'b'] })).toBeUndefined();
    expect(extractApiKey({}, null)).toBeUndefined();
    expect(extractApiKey({}, 'key=sk-x')).toBeUndefined();
  });
});

describe(readCookie.name, () => {
  it('reads one cookie among several', () => {
    expect(readCookie('a=1; auth_token=eyJ.x.y; b=2', 'auth_token')).toBe('eyJ.x.y');
  });

  it('reads the first and the last cookie', () => {
    expect(readCookie('auth_token=t1; other=2', 'auth_token')).toBe('t1');
    expect(readCookie('other=2;auth_token=t2', 'auth_token')).toBe('t2');
  });

  it('decodes a percent-encoded value', () => {
    expect(readCookie('auth_token=a%20b%3Dc', 'auth_token')).toBe('a b=c');
  });

  it('keeps = signs inside the value', () => {
    expect(readCookie('auth_token=abc==', 'auth_token')).toBe('abc==');
  });

  it('does not match a cookie whose name only ends with the name asked for', () => {
    expect(readCookie('xauth_token=evil', 'auth_token')).toBeUndefined();
  });

  it('returns undefined without a header or without the cookie', () => {
    expect(readCookie(undefined, 'auth_token')).toBeUndefined();
    expect(readCookie('', 'auth_token')).toBeUndefined();
    expect(readCookie('a=1; b=2', 'auth_token')).toBeUndefined();
    expect(readCookie('auth_token', 'auth_token')).toBeUndefined();
  });

  it('treats a malformed percent-encoding as no cookie instead of throwing', () => {
    expect(() => readCookie('auth_token=%E0%A4%A', 'auth_token')).not.toThrow();
    expect(readCookie('auth_token=%E0%A4%A', 'auth_token')).toBeUndefined();
  });
});
