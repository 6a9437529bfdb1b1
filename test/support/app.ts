import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.setup';
import { validateEnv } from '../../src/config/env.schema';
import { FILE_TOKEN, REDIS_URL, createTestDatabase, runId } from './db';

export const ADMIN_KEY = 'sk-test-admin-0123456789abcdefghij';
export const ADMIN_PASSWORD = 'test-password-1';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  dbUrl: string;
  redisPrefix: string;
  adminKey: string;
  dataDir: string;
  close(): Promise<void>;
}

let seq = 0;

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Share one database/Redis prefix between apps (replica tests). */
  dbUrl?: string;
  redisPrefix?: string;
  /** false: no REDIS_URL (in-process store). */
  redis?: boolean;
}

/** Boots the real app (Postgres, Redis) in-process on a random loopback port. */
export async function startTestApp(opts: StartOptions = {}): Promise<TestApp> {
  const dbUrl = opts.dbUrl ?? (await createTestDatabase()).url;
  const redisPrefix =
    opts.redisPrefix ?? `omni-t-${runId()}-${process.pid}-${FILE_TOKEN}-${++seq}:`;
  const dataDir = mkdtempSync(join(tmpdir(), 'omni-test-'));
  const useRedis = opts.redis ?? process.env.OMNI_TEST_NO_REDIS !== '1';
  const env = validateEnv({
    NODE_ENV: 'test',
    DATABASE_URL: dbUrl,
    REDIS_URL: useRedis ? REDIS_URL : undefined,
    REDIS_KEY_PREFIX: redisPrefix,
    DATA_DIR: dataDir,
    INITIAL_ADMIN_KEY: ADMIN_KEY,
    INITIAL_PASSWORD: ADMIN_PASSWORD,
    ALLOW_PRIVATE_UPSTREAMS: 'true',
    LOG_LEVEL: process.env.OMNI_TEST_LOG ?? 'silent',
    UPSTREAM_TIMEOUT_MS: '3000',
    USAGE_FLUSH_INTERVAL_MS: '50',
    ...opts.env,
  });
  const app = await createApp(env);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    dbUrl,
    redisPrefix,
    adminKey: ADMIN_KEY,
    dataDir,
    close: async () => {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
