import type { DataSource } from 'typeorm';

/** Any fixed 64-bit number: the advisory lock every replica takes around migrations. */
const MIGRATION_LOCK_ID = 7_202_611_260;

/**
 * Runs pending migrations under a Postgres session advisory lock, so replicas starting together
 * run them once: the first takes the lock and migrates, the others wait and find nothing to do.
 */
export async function runMigrationsLocked(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const done = await ds.runMigrations({ transaction: 'each' });
      return done.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await runner.release();
  }
}
