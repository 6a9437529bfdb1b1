import { createHash, randomBytes } from 'node:crypto';
import { decryptWith, deriveKey, encryptWith } from './secrets.service';

const HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

describe(deriveKey.name, () => {
  it('reads 64 hex characters as the 32 key bytes', () => {
    expect(deriveKey(HEX).equals(Buffer.from(HEX, 'hex'))).toBe(true);
  });

  it('reads upper-case hex and ignores surrounding whitespace', () => {
    expect(deriveKey(`  ${HEX.toUpperCase()}\n`).equals(Buffer.from(HEX, 'hex'))).toBe(true);
  });

  it('reads base64 of 32 bytes as those bytes', () => {
    const raw = randomBytes(32);
    expect(deriveKey(raw.toString('base64')).equals(raw)).toBe(true);
  });

  it('reads base64url of 32 bytes as those bytes', () => {
    const raw = Buffer.from(Array.from({ length: 32 }, (_v, i) => 250 - i)); // bytes giving - and _
    const b64url = raw.toString('base64url');
    expect(b64url).toMatch(/[-_]/);
    expect(deriveKey(b64url).equals(raw)).toBe(true);
  });

  it('hashes a passphrase with SHA-256', () => {
    const pass = 'correct horse battery staple, long enough';
    const key = deriveKey(pass);
    expect(key).toHaveLength(32);
    expect(key.equals(createHash('sha256').update(pass).digest())).toBe(true);
  });

  it('hashes 63 hex characters as a passphrase rather than reading them as hex', () => {
    const short = HEX.slice(1);
    expect(deriveKey(short).equals(createHash('sha256').update(short).digest())).toBe(true);
  });

  it('gives different keys for different passphrases', () => {
    expect(
      deriveKey('passphrase-one-xxxxxxxxxxxxxxxxxxxxx').equals(
        deriveKey('passphrase-two-xxxxxxxxxxxxxxxxxxxxx'),
      ),
    ).toBe(false);
  });
});

describe('encryptWith / decryptWith', () => {
  const key = deriveKey(HEX);

  it('decrypts what it encrypted', () => {
    for (const plain of ['sk-live-abc123', '', 'ünïcödé 🔑', 'x'.repeat(10_000)]) {
      expect(decryptWith(key, encryptWith(key, plain))).toBe(plain);
    }
  });

  it('writes v1:<iv>:<tag>:<ciphertext> with a 96-bit IV and a 128-bit tag', () => {
    const [v, iv, tag, ct] = encryptWith(key, 'secret').split(':');
    expect(v).toBe('v1');
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    expect(Buffer.from(ct, 'base64url')).toHaveLength(6);
  });

  it('does not contain the plaintext', () => {
    const sealed = encryptWith(key, 'sk-very-secret-value');
    expect(sealed).not.toContain('sk-very-secret-value');
    expect(Buffer.from(sealed.split(':')[3], 'base64url').toString('utf8')).not.toContain('secret');
  });

  it('uses a random IV so two encryptions of the same text differ', () => {
    const a = encryptWith(key, 'same');
    const b = encryptWith(key, 'same');
    expect(a).not.toBe(b);
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
  });

  it('throws when the ciphertext was tampered with', () => {
    const [v, iv, tag, ct] = encryptWith(key, 'sk-live-abc123').split(':');
    const bytes = Buffer.from(ct, 'base64url');
    bytes[0] ^= 0x01;
    expect(() => decryptWith(key, [v, iv, tag, bytes.toString('base64url')].join(':'))).toThrow();
  });

  it('throws when the tag was tampered with', () => {
    const [v, iv, tag, ct] = encryptWith(key, 'sk-live-abc123').split(':');
    const t = Buffer.from(tag, 'base64url');
    t[15] ^= 0x80;
    expect(() => decryptWith(key, [v, iv, t.toString('base64url'), ct].join(':'))).toThrow();
  });

  it('throws when the tag was truncated', () => {
    const [v, iv, tag, ct] = encryptWith(key, 'sk-live-abc123').split(':');
    const short = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => decryptWith(key, [v, iv, short, ct].join(':'))).toThrow();
  });

  it('throws when the IV was changed', () => {
    const [v, , tag, ct] = encryptWith(key, 'sk-live-abc123').split(':');
    const iv = randomBytes(12).toString('base64url');
    expect(() => decryptWith(key, [v, iv, tag, ct].join(':'))).toThrow();
  });

  it('throws with another key', () => {
    const sealed = encryptWith(key, 'sk-live-abc123');
    expect(() => decryptWith(deriveKey('some other passphrase entirely'), sealed)).toThrow();
  });

  it.each(['', 'plaintext', 'v2:a:b:c', 'v1:a:b', 'v1::b:c', 'v1:a::c'])(
    'throws on the unrecognised format %j',
    (sealed) => {
      expect(() => decryptWith(key, sealed)).toThrow('Unrecognised ciphertext format');
    },
  );
});
