import { adminQuery, deleteRedisPrefix } from './db';

/** Drops every database and Redis key this run made. */
export default async function globalTeardown(): Promise<void> {
  const run = process.env.OMNI_TEST_RUN;
  if (!run) {
    return;
  }
  const { rows } = await adminQuery(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
    `omni_t_${run}_%`,
  ]);
  for (const r of rows) {
    await adminQuery(`DROP DATABASE IF EXISTS ${String(r.datname)} WITH (FORCE)`).catch(
      () => undefined,
    );
  }
  await deleteRedisPrefix(`omni-t-${run}-`).catch(() => undefined);
}
