import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/database.module';
import { runMigrationsLocked } from '../../src/database/migrate';
import { adminQuery, dbUrl } from './db';

/**
 * One run = one id. Migrations run once into a template database; every test app clones it
 * (CREATE DATABASE … TEMPLATE), so runs and test files never share rows.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.OMNI_TEST_RUN) {
    return; // already set up by another project of this run (e2e and e2e-memory share it)
  }
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  process.env.OMNI_TEST_RUN = run;
  const tpl = `omni_t_${run}_tpl`;
  await adminQuery(`CREATE DATABASE ${tpl}`);
  const ds = await new DataSource(dataSourceOptions(dbUrl(tpl))).initialize();
  try {
    await runMigrationsLocked(ds);
  } finally {
    await ds.destroy();
  }
}
