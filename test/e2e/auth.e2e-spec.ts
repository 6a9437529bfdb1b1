import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { signJwt } from '../../src/auth/jwt';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../support/app';
import { REDIS_URL } from '../support/db';
import { useGateway } from '../support/fixtures';
import {
  call,
  codeOf,
  fieldsOf,
  type CallOptions,
  type CallResult,
  type Gateway,
  type ManagementError,
} from '../support/gateway-client';

/** These tests authenticate with the session cookie: no API key unless a test passes one. */
const send = (
  gw: Gateway,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<CallResult> => call(gw, method, path, { key: null, ...opts });

const login = (
  gw: Gateway,
  password: unknown,
  headers?: Record<string, string>,
): Promise<CallResult> => send(gw, 'POST', '/api/auth/login', { body: { password }, headers });

/** `auth_token=<value>` from a login response's Set-Cookie. */
function sessionCookie(res: CallResult): string {
  const sc = res.headers.get('set-cookie') ?? '';
  const m = /^auth_token=([^;]+);/.exec(sc);
  if (!m) {
    throw new Error(`no auth_token cookie in "${sc}"`);
  }
  return `auth_token=${m[1]}`;
}

describe('/api/auth', () => {
  const { gw } = useGateway({ mock: false });

  it('logs in with the right password: 200 {success:true} and an HttpOnly SameSite=Lax cookie', async () => {
    const r = await login(gw, ADMIN_PASSWORD);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true });
    const sc = r.headers.get('set-cookie') ?? '';
    expect(sc).toMatch(/^auth_token=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/);
    expect(sc).toMatch(/;\s*HttpOnly/i);
    expect(sc).toMatch(/;\s*SameSite=Lax/i);
    expect(sc).toMatch(/;\s*Path=\//);
    expect(sc).toMatch(/;\s*Max-Age=2592000/);
    // Plain http without a forwarded https: no Secure flag (the browser would drop the cookie).
    expect(sc).not.toMatch(/;\s*Secure/i);
  });

  it('marks the cookie Secure behind an https proxy (x-forwarded-proto)', async () => {
    const r = await login(gw, ADMIN_PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(r.status).toBe(200);
    expect(r.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
  });

  it('the session cookie alone authorizes GET /api/keys', async () => {
    expect((await send(gw, 'GET', '/api/keys')).status).toBe(401);
    const cookie = sessionCookie(await login(gw, ADMIN_PASSWORD));
    const r = await send(gw, 'GET', '/api/keys', { cookie });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ keys: expect.any(Array), total: expect.any(Number) });
    // Among other cookies too.
    const r2 = await send(gw, 'GET', '/api/keys', { cookie: `theme=dark; ${cookie}; x=1` });
    expect(r2.status).toBe(200);
  });

  it('/api/auth/status is true with the cookie and false without', async () => {
    const cookie = sessionCookie(await login(gw, ADMIN_PASSWORD));
    const yes = await send(gw, 'GET', '/api/auth/status', { cookie });
    expect(yes.status).toBe(200);
    expect(yes.json).toEqual({ authenticated: true });
    const no = await send(gw, 'GET', '/api/auth/status');
    expect(no.status).toBe(200);
    expect(no.json).toEqual({ authenticated: false });
  });

  it('rejects a wrong password with 401 and no cookie', async () => {
    const r = await login(gw, 'wrong-password');
    expect(r.status).toBe(401);
    expect(codeOf(r.json)).toBe('INVALID_PASSWORD');
    expect(r.headers.get('set-cookie')).toBeNull();
    // A success afterwards resets the failure count.
    expect((await login(gw, ADMIN_PASSWORD)).status).toBe(200);
  });

  it.each([
    ['missing password', {}],
    ['password a number', { password: 1234 }],
    ['password empty', { password: '' }],
    ['password null', { password: null }],
  ])('rejects a login body with %s (400 VALIDATION_FAILED)', async (_t, body) => {
    const r = await send(gw, 'POST', '/api/auth/login', { body });
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
    expect(fieldsOf(r.json)).toContain('password');
    expect(r.headers.get('set-cookie')).toBeNull();
  });

  it('rejects malformed JSON on login with 400 INVALID_JSON', async () => {
    const r = await send(gw, 'POST', '/api/auth/login', { rawBody: '{"password":' });
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('INVALID_JSON');
  });

  it('logout clears the cookie (Max-Age=0)', async () => {
    const cookie = sessionCookie(await login(gw, ADMIN_PASSWORD));
    const r = await send(gw, 'POST', '/api/auth/logout', { cookie });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true });
    const sc = r.headers.get('set-cookie') ?? '';
    expect(sc).toMatch(/^auth_token=;/);
    expect(sc).toMatch(/;\s*Max-Age=0/);
    expect(sc).toMatch(/;\s*HttpOnly/i);
  });

  it('rejects a tampered cookie with 401', async () => {
    const cookie = sessionCookie(await login(gw, ADMIN_PASSWORD));
    const [h, p, s] = cookie.slice('auth_token='.length).split('.');
    // Change the signature's first character (all 6 bits of it are significant).
    const badSig = `${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    // A forged payload with the old signature.
    const forged = Buffer.from(
      JSON.stringify({ authenticated: true, exp: Math.floor(Date.now() / 1000) + 9_999_999 }),
    ).toString('base64url');
    for (const token of [`${h}.${p}.${badSig}`, `${h}.${forged}.${s}`, `${h}.${p}`, 'garbage']) {
      const r = await send(gw, 'GET', '/api/keys', { cookie: `auth_token=${token}` });
      expect({ token, status: r.status }).toEqual({ token, status: 401 });
      expect(codeOf(r.json)).toBe('AUTH_REQUIRED');
      const st = await send(gw, 'GET', '/api/auth/status', { cookie: `auth_token=${token}` });
      expect(st.json).toEqual({ authenticated: false });
    }
  });

  it('rejects an expired cookie (and one not saying authenticated) with 401', async () => {
    const secret = readFileSync(join(gw.dataDir, 'jwt-secret'), 'utf8').trim();
    const valid = signJwt({ authenticated: true }, secret, 60);
    // The control: a cookie signed with the app's secret works…
    expect((await send(gw, 'GET', '/api/keys', { cookie: `auth_token=${valid}` })).status).toBe(
      200,
    );
    // …but not once expired, nor without the claim, nor signed with another secret.
    const expired = signJwt({ authenticated: true }, secret, -10);
    const notAuth = signJwt({ authenticated: false }, secret, 60);
    const otherSecret = signJwt({ authenticated: true }, 'x'.repeat(64), 60);
    for (const token of [expired, notAuth, otherSecret]) {
      const r = await send(gw, 'GET', '/api/keys', { cookie: `auth_token=${token}` });
      expect(r.status).toBe(401);
    }
  });

  it('GET /api/settings/require-login is public with the documented shape', async () => {
    const r = await send(gw, 'GET', '/api/settings/require-login');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      requireLogin: true,
      hasPassword: true,
      setupComplete: true,
      nodeVersion: process.version,
      nodeCompatible: true,
    });
  });

  it('PUT and POST /api/settings/require-login need auth (401 without)', async () => {
    for (const method of ['PUT', 'POST']) {
      const r = await send(gw, method, '/api/settings/require-login', {
        body: { password: 'hijacked-password' },
      });
      expect({ method, status: r.status }).toEqual({ method, status: 401 });
    }
    // The password did not change.
    expect((await login(gw, 'hijacked-password')).status).toBe(401);
    expect((await login(gw, ADMIN_PASSWORD)).status).toBe(200);
  });

  it('require-login rejects an empty or invalid body with 400', async () => {
    const cookie = sessionCookie(await login(gw, ADMIN_PASSWORD));
    for (const method of ['PUT', 'POST']) {
      const empty = await send(gw, method, '/api/settings/require-login', { cookie, body: {} });
      expect(empty.status).toBe(400);
      expect(codeOf(empty.json)).toBe('VALIDATION_FAILED');
      const short = await send(gw, method, '/api/settings/require-login', {
        cookie,
        body: { password: 'abc' },
      });
      expect(short.status).toBe(400);
      expect(fieldsOf(short.json)).toContain('password');
      const badType = await send(gw, method, '/api/settings/require-login', {
        cookie,
        body: { requireLogin: 'no' },
      });
      expect(badType.status).toBe(400);
      expect(fieldsOf(badType.json)).toContain('requireLogin');
    }
    // Nothing changed.
    expect((await login(gw, ADMIN_PASSWORD)).status).toBe(200);
  });
});

describe('/api/settings/require-login changes', () => {
  const { gw } = useGateway({ mock: false });

  it('PUT changes the password: the new one logs in, the old one fails', async () => {
    const cookie = sessionCookie(await login(gw, ADMIN_PASSWORD));
    const r = await send(gw, 'PUT', '/api/settings/require-login', {
      cookie,
      body: { password: 'second-password' },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true });
    expect((await login(gw, ADMIN_PASSWORD)).status).toBe(401);
    expect((await login(gw, 'second-password')).status).toBe(200);
  });

  it('POST (OmniRoute clients) changes it too, with an admin API key', async () => {
    const r = await send(gw, 'POST', '/api/settings/require-login', {
      key: gw.adminKey,
      body: { password: 'third-password' },
    });
    expect(r.status).toBe(200);
    expect((await login(gw, 'second-password')).status).toBe(401);
    expect((await login(gw, 'third-password')).status).toBe(200);
  });

  it('requireLogin:false opens management without credentials; true closes it again', async () => {
    const off = await send(gw, 'PUT', '/api/settings/require-login', {
      key: gw.adminKey,
      body: { requireLogin: false },
    });
    expect(off.status).toBe(200);
    expect((await send(gw, 'GET', '/api/settings/require-login')).json).toMatchObject({
      requireLogin: false,
    });
    expect((await send(gw, 'GET', '/api/keys')).status).toBe(200);
    // A wrong API key is still refused.
    const wrong = await send(gw, 'GET', '/api/keys', {
      key: 'sk-wrong-wrong-wrong-wrong',
    });
    expect(wrong.status).toBe(401);

    const on = await send(gw, 'PUT', '/api/settings/require-login', {
      key: gw.adminKey,
      body: { requireLogin: true },
    });
    expect(on.status).toBe(200);
    expect((await send(gw, 'GET', '/api/keys')).status).toBe(401);
  });
});

describe('login lockout', () => {
  let other: TestApp | undefined;
  afterAll(async () => {
    await other?.close();
  });
  // After the hook above: afterAll hooks run in declaration order, so `other` closes first.
  const { gw } = useGateway({ app: { redis: true }, mock: false }); // the lockout lives in Redis;

  it('locks the client IP after 5 failures: 429 with Retry-After even for the right password', async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await login(gw, `wrong-${i}`);
      expect({ attempt: i, status: r.status }).toEqual({ attempt: i, status: 401 });
    }
    const locked = await login(gw, ADMIN_PASSWORD);
    expect(locked.status).toBe(429);
    expect(codeOf(locked.json)).toBe('LOGIN_LOCKED');
    expect(locked.headers.get('set-cookie')).toBeNull();
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect((locked.json as ManagementError).error.details?.retryAfterSeconds).toBe(retryAfter);
  });

  it('keeps the lock in Redis: shared by another replica on the same store', async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await r.connect();
      const keys = await r.keys(`${gw.redisPrefix}auth:lock:*`);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/127\.0\.0\.1$/);
      const ttl = await r.pttl(keys[0]);
      expect(ttl).toBeGreaterThan(800_000);
    } finally {
      r.disconnect();
    }
    other = await startTestApp({ dbUrl: gw.dbUrl, redisPrefix: gw.redisPrefix, redis: true });
    const locked = await login(other, ADMIN_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('does not lock an app on another Redis prefix (lock is per store, not global)', async () => {
    const fresh = await startTestApp();
    try {
      expect((await login(fresh, ADMIN_PASSWORD)).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });
});

describe('fresh install (no password yet)', () => {
  const { gw } = useGateway({ app: { env: { INITIAL_PASSWORD: undefined } }, mock: false });

  it('reports no password and setup not complete', async () => {
    const r = await send(gw, 'GET', '/api/settings/require-login');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ requireLogin: true, hasPassword: false, setupComplete: false });
  });

  it('login answers 403 NO_PASSWORD (onboarding needed), not 401', async () => {
    const r = await login(gw, 'anything');
    expect(r.status).toBe(403);
    expect(codeOf(r.json)).toBe('NO_PASSWORD');
  });

  it('allows management from loopback without credentials until a password is set', async () => {
    expect((await send(gw, 'GET', '/api/keys')).status).toBe(200);
    // A presented but wrong key is still refused, even from loopback.
    const wrong = await send(gw, 'GET', '/api/keys', {
      key: 'sk-wrong-wrong-wrong-wrong',
    });
    expect(wrong.status).toBe(401);

    const set = await send(gw, 'POST', '/api/settings/require-login', {
      body: { password: 'first-password' },
    });
    expect(set.status).toBe(200);
    expect(set.json).toEqual({ success: true });

    const closed = await send(gw, 'GET', '/api/keys');
    expect(closed.status).toBe(401);
    expect(codeOf(closed.json)).toBe('AUTH_REQUIRED');
    expect((await send(gw, 'GET', '/api/settings/require-login')).json).toMatchObject({
      hasPassword: true,
      setupComplete: true,
    });
    // Setting it again now needs auth.
    const again = await send(gw, 'POST', '/api/settings/require-login', {
      body: { password: 'hijack-password' },
    });
    expect(again.status).toBe(401);
    const cookie = sessionCookie(await login(gw, 'first-password'));
    expect((await send(gw, 'GET', '/api/keys', { cookie })).status).toBe(200);
  });
});
