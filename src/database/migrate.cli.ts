/* `npm run migration:run`: applies pending migrations and exits (the Helm pre-upgrade hook). */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { validateEnv } from '@/config/env.schema';
import { dataSourceOptions } from './database.module';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres';
import { runMigrationsLocked } from './migrate';

async function main(): Promise<void> {
  const env = validateEnv(process.env);
  let embedded: EmbeddedDatabase | undefined;
  let url = env.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres(env.DATA_DIR, (m) => console.log(m));
    url = embedded.url;
  }
  const ds = await new DataSource(dataSourceOptions(url)).initialize();
  try {
    const ran = await runMigrationsLocked(ds);
    console.log(ran.length ? `applied: ${ran.join(', ')}` : 'no pending migrations');
  } finally {
    await ds.destroy();
    await embedded?.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
