import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { Env } from '@/config/env.schema';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres';
import { runMigrationsLocked } from './migrate';

export const DATABASE_CONNECTION = Symbol('DATABASE_CONNECTION');

export interface DatabaseConnection {
  url: string;
  embedded?: EmbeddedDatabase;
}

/** DataSource options shared by the app and the migration CLI. */
export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    extra: { max: 10, connectionTimeoutMillis: 5_000 },
  };
}

/** Resolves the database: `DATABASE_URL`, or an embedded Postgres started in DATA_DIR. */
class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_CONNECTION) private readonly conn: DatabaseConnection) {}
  async onApplicationShutdown(): Promise<void> {
    // Runs after TypeORM has closed its pool (this module is initialised first, shut down last).
    await this.conn.embedded?.stop();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DATABASE_CONNECTION,
      inject: [Env],
      useFactory: async (env: Env): Promise<DatabaseConnection> => {
        if (env.DATABASE_URL) {
          return { url: env.DATABASE_URL };
        }
        const logger = new Logger('Database');
        const embedded = await startEmbeddedPostgres(env.DATA_DIR, (m) => logger.log(m));
        return { url: embedded.url, embedded };
      },
    },
    DatabaseLifecycle,
  ],
  exports: [DATABASE_CONNECTION],
})
class DatabaseConnectionModule {}

@Module({
  imports: [
    DatabaseConnectionModule,
    TypeOrmModule.forRootAsync({
      imports: [DatabaseConnectionModule],
      inject: [DATABASE_CONNECTION, Env],
      useFactory: (conn: DatabaseConnection) => ({
        ...dataSourceOptions(conn.url),
        autoLoadEntities: true,
        retryAttempts: 3,
        retryDelay: 1_000,
      }),
      dataSourceFactory: async (options) => {
        const ds = await new DataSource(options!).initialize();
        return ds;
      },
    }),
  ],
  providers: [
    {
      provide: 'MIGRATIONS_AT_BOOT',
      inject: [DataSource, Env],
      useFactory: async (ds: DataSource, env: Env): Promise<string[]> => {
        if (!env.MIGRATIONS_RUN) {
          return [];
        }
        const ran = await runMigrationsLocked(ds);
        if (ran.length) {
          new Logger('Database').log(`migrations applied: ${ran.join(', ')}`);
        }
        return ran;
      },
    },
  ],
  exports: [DatabaseConnectionModule, 'MIGRATIONS_AT_BOOT'],
})
export class DatabaseModule {}
