import { createHash } from 'node:crypto';
import { generateKey, hashKey, maskKey } from './keys.service';

describe(hashKey.name, () => {
  it('is the SHA-256 of the key in lower-case hex', () => {
    expect(hashKey('sk-test')).toBe(createHash('sha256').update('sk-test').digest('hex'));
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('differs for keys that differ in one character', () => {
    expect(hashKey('sk-aaaa')).not.toBe(hashKey('sk-aaab'));
  });
});

describe(generateKey.name, () => {
  it('is sk- followed by 32 url-safe characters', () => {
    for (let i = 0; i < 200; i++) {
      expect(generateKey()).toMatch(/^sk-[A-Za-z0-9_-]{32}$/);
    }
  });

  it('gives a different key each time', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey()));
    expect(keys.size).toBe(1000);
  });
});

describe(maskKey.name, () => {
  it('shows the display prefix and the last four characters only', () => {
    expect(maskKey('sk-Ab12', 'wxYz')).toBe('sk-Ab12****wxYz');
  });

  it('never contains the middle of the key it stands for', () => {
    const key = generateKey();
    const masked = maskKey(key.slice(0, 7), key.slice(-4));
    expect(masked).not.toContain(key.slice(7, -4));
    expect(masked).toHaveLength(7 + 4 + 4);
  });
});
