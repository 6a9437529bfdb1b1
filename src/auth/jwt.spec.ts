import { createHmac } from 'node:crypto';
import { signJwt, verifyJwt } from './jwt';

const SECRET = 'a-very-long-test-secret-of-32-chars!!';
const T0 = Date.parse('2026-03-01T12:00:00Z');

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const sign = (header: string, body: string, secret = SECRET): string =>
  `${header}.${body}.${createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url')}`;

describe('jwt', () => {
  let now: number;
  beforeEach(() => {
    now = T0;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  it('verifies a token it signed and returns the payload with iat and exp', () => {
    const token = signJwt({ authenticated: true, sub: 'admin' }, SECRET, 3600);
    expect(token.split('.')).toHaveLength(3);
    expect(verifyJwt(token, SECRET)).toEqual({
      authenticated: true,
      sub: 'admin',
      iat: T0 / 1000,
      exp: T0 / 1000 + 3600,
    });
  });

  it('writes a standard HS256 header', () => {
    const [header] = signJwt({}, SECRET, 60).split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    });
  });

  it('produces a signature any HS256 implementation would compute', () => {
    const token = signJwt({ a: 1 }, SECRET, 60);
    const [h, p, s] = token.split('.');
    expect(s).toBe(createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url'));
  });

  it('rejects a token signed with another secret', () => {
    const token = signJwt({ authenticated: true }, 'another-secret-that-is-also-long-enough', 3600);
    expect(verifyJwt(token, SECRET)).toBeNull();
  });

  it('rejects a token whose payload was tampered with', () => {
    const [h, , s] = signJwt({ authenticated: false }, SECRET, 3600).split('.');
    const forged = b64({ authenticated: true, iat: T0 / 1000, exp: T0 / 1000 + 3600 });
    expect(verifyJwt(`${h}.${forged}.${s}`, SECRET)).toBeNull();
  });

  it('rejects a token whose signature was altered', () => {
    const token = signJwt({ authenticated: true }, SECRET, 3600);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(verifyJwt(`${token.slice(0, -1)}${last}`, SECRET)).toBeNull();
  });

  it('accepts a token until it expires and rejects it from then on', () => {
    const token = signJwt({ authenticated: true }, SECRET, 60);
    now = T0 + 59_999;
    expect(verifyJwt(token, SECRET)).not.toBeNull();
    now = T0 + 60_000;
    expect(verifyJwt(token, SECRET)).toBeNull();
  });

  it('rejects a correctly signed token without a numeric exp', () => {
    const header = signJwt({}, SECRET, 60).split('.')[0];
    expect(verifyJwt(sign(header, b64({ authenticated: true })), SECRET)).toBeNull();
    expect(verifyJwt(sign(header, b64({ exp: 'never' })), SECRET)).toBeNull();
  });

  it.each([
    ['alg none', { alg: 'none', typ: 'JWT' }],
    ['another algorithm', { alg: 'HS512', typ: 'JWT' }],
    ['reordered keys', { typ: 'JWT', alg: 'HS256' }],
  ])('rejects a correctly signed token whose header has %s', (_label, header) => {
    const body = b64({ authenticated: true, exp: T0 / 1000 + 3600 });
    expect(verifyJwt(sign(b64(header), body), SECRET)).toBeNull();
  });

  it('rejects an unsigned alg:none token', () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ exp: T0 / 1000 + 60 })}.`;
    expect(verifyJwt(token, SECRET)).toBeNull();
  });

  it.each(['', 'abc', 'a.b', 'a.b.c.d', '..'])('rejects the malformed token %j', (token) => {
    expect(verifyJwt(token, SECRET)).toBeNull();
  });

  it('rejects a correctly signed token whose payload is not JSON', () => {
    const header = signJwt({}, SECRET, 60).split('.')[0];
    const body = Buffer.from('not json').toString('base64url');
    expect(verifyJwt(sign(header, body), SECRET)).toBeNull();
  });
});
