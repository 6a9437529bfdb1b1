import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import Redis from 'ioredis';

/** The machine's Postgres and Redis (DEVELOPERS.md); overridable for other setups. */
export const PG_ADMIN_URL =
  process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery(
  sql: string,
  params: unknown[] = [],
): Promise<{ rows: Record<string, unknown>[] }> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** Run id shared by every worker of one jest run (set by global-setup). */
export function runId(): string {
  const id = process.env.OMNI_TEST_RUN;
  if (!id) {
    throw new Error('OMNI_TEST_RUN is not set: run e2e tests through jest (global-setup)');
  }
  return id;
}

export function templateDb(): string {
  return `omni_t_${runId()}_tpl`;
}

let seq = 0;
/** Jest reloads this module for every test file of a worker (same pid): the token keeps names apart. */
export const FILE_TOKEN = randomBytes(3).toString('hex');

/** A fresh, migrated database for one app (or one group of replicas), cloned from the run's template. */
export async function createTestDatabase(): Promise<{ name: string; url: string }> {
  const name = `omni_t_${runId()}_${process.pid}_${FILE_TOKEN}_${++seq}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${templateDb()}`);
  return { name, url: dbUrl(name) };
}

/** Query a test database directly (to check what the gateway wrote). */
export async function queryDb(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) {
        await r.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
