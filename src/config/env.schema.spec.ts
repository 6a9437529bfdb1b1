import { getMetadataStorage } from 'class-validator';
import { ENV_KEYS, Env, EnvValidationError, validateEnv } from './env.schema';

const HEX_KEY = 'a'.repeat(64);
const JWT = 'j'.repeat(32);

/** Runs validateEnv expecting a failure and returns the error's message. */
function failure(raw: Record<string, unknown>): string {
  try {
    validateEnv(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(EnvValidationError);
    return (e as Error).message;
  }
  throw new Error(`validateEnv(${JSON.stringify(raw)}) did not throw`);
}

describe(validateEnv.name, () => {
  it('applies the defaults to an empty environment', () => {
    const env = validateEnv({});
    expect(env).toBeInstanceOf(Env);
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 20128,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      REDIS_KEY_PREFIX: 'omniroute:',
      REQUIRE_API_KEY: true,
      CORS_ALLOWED_ORIGINS: '',
      MAX_BODY_SIZE_MB: 10,
      UPSTREAM_TIMEOUT_MS: 600_000,
      LOG_LEVEL: 'info',
      ALLOW_PRIVATE_UPSTREAMS: false,
      MIGRATIONS_RUN: true,
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.ENCRYPTION_KEY).toBeUndefined();
  });

  it('converts numbers from strings', () => {
    const env = validateEnv({ PORT: '8080', MAX_BODY_SIZE_MB: '25', UPSTREAM_TIMEOUT_MS: '1500' });
    expect(env.PORT).toBe(8080);
    expect(env.MAX_BODY_SIZE_MB).toBe(25);
    expect(env.UPSTREAM_TIMEOUT_MS).toBe(1500);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
    ['off', false],
    [' false ', false],
  ])('converts the boolean string %j to %s', (raw, value) => {
    expect(validateEnv({ REQUIRE_API_KEY: raw }).REQUIRE_API_KEY).toBe(value);
    expect(validateEnv({ ALLOW_PRIVATE_UPSTREAMS: raw }).ALLOW_PRIVATE_UPSTREAMS).toBe(value);
  });

  it('treats empty optional values as unset', () => {
    const env = validateEnv({ DATABASE_URL: '', REDIS_URL: '  ', ENCRYPTION_KEY: '' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.ENCRYPTION_KEY).toBeUndefined();
  });

  it('accepts valid URLs and secrets', () => {
    const env = validateEnv({
      DATABASE_URL: 'postgresql://u:p@db:5432/omni',
      REDIS_URL: 'rediss://cache:6380/0',
      ENCRYPTION_KEY: HEX_KEY,
      JWT_SECRET: JWT,
      INITIAL_ADMIN_KEY: 'sk-abcdefghijklmnop_-12',
    });
    expect(env.DATABASE_URL).toBe('postgresql://u:p@db:5432/omni');
    expect(env.REDIS_URL).toBe('rediss://cache:6380/0');
  });

  it('ignores variables it does not know', () => {
    const env = validateEnv({ PATH: '/usr/bin', HOME: '/root' });
    expect(env).not.toHaveProperty('PATH');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['REQUIRE_API_KEY', 'maybe'],
    ['ALLOW_PRIVATE_UPSTREAMS', 'sometimes'],
    ['MIGRATIONS_RUN', 'perhaps'],
    ['ENCRYPTION_KEY', 'too-short'],
    ['JWT_SECRET', 'short'],
    ['MAX_BODY_SIZE_MB', '0'],
    ['UPSTREAM_TIMEOUT_MS', '10'],
    ['INITIAL_ADMIN_KEY', 'not-a-key'],
  ])('throws EnvValidationError naming %s for %j', (name, value) => {
    const lines = failure({ [name]: value }).split('\n');
    expect(lines[0]).toBe('Invalid environment:');
    expect(lines.slice(1)).toEqual([expect.stringMatching(new RegExp(`^  ${name}: .+`))]);
  });

  it('names every bad variable at once', () => {
    const message = failure({ PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(message).toContain('PORT:');
    expect(message).toContain('LOG_LEVEL:');
  });

  it('requires ENCRYPTION_KEY and JWT_SECRET in production', () => {
    const message = failure({ NODE_ENV: 'production' });
    expect(message).toContain('ENCRYPTION_KEY: required when NODE_ENV=production');
    expect(message).toContain('JWT_SECRET: required when NODE_ENV=production');
  });

  it('requires the missing one only in production', () => {
    const message = failure({ NODE_ENV: 'production', ENCRYPTION_KEY: HEX_KEY });
    expect(message).toContain('JWT_SECRET');
    expect(message).not.toContain('ENCRYPTION_KEY');
  });

  it('accepts production with both secrets', () => {
    const env = validateEnv({ NODE_ENV: 'production', ENCRYPTION_KEY: HEX_KEY, JWT_SECRET: JWT });
    expect(env.NODE_ENV).toBe('production');
  });
});

describe('ENV_KEYS', () => {
  it('lists every defaulted variable', () => {
    for (const key of Object.keys(new Env())) {
      expect(ENV_KEYS).toContain(key);
    }
    expect(ENV_KEYS).toEqual(expect.arrayContaining(['PORT', 'NODE_ENV', 'REQUIRE_API_KEY']));
  });

  it('lists every optional variable too', () => {
    expect(ENV_KEYS).toEqual(
      expect.arrayContaining([
        'DATABASE_URL',
        'REDIS_URL',
        'ENCRYPTION_KEY',
        'JWT_SECRET',
        'INITIAL_PASSWORD',
        'INITIAL_ADMIN_KEY',
      ]),
    );
  });

  it('lists every variable the schema validates, so none can be added and forgotten', () => {
    const validated = getMetadataStorage()
      .getTargetValidationMetadatas(Env, '', true, false)
      .map((m) => m.propertyName);
    expect(validated.length).toBeGreaterThan(20);
    expect([...new Set(validated)].filter((k) => !ENV_KEYS.includes(k))).toEqual([]);
  });

  it('lists each variable once', () => {
    expect(new Set(ENV_KEYS).size).toBe(ENV_KEYS.length);
  });
});
