import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageService } from '../../src/usage/usage.service';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import { addMockNode } from '../support/gateway-client';

/**
 * The coding CLIs of API.md §1, run as real child processes against the gateway, which routes them
 * to the OpenAI-protocol mock upstream. Each CLI gets a throwaway HOME (and its own config dir), so
 * it finds no user config, and the env switches that keep it off the network (telemetry, error
 * reporting, update checks).
 */

const BIN = resolve(__dirname, '../../node_modules/.bin');
const MODEL = 'mock/gpt-4o-mini';
const PROMPT = 'Say hello.';
const CLI_TIMEOUT_MS = 60_000;

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin args` with only `env` (plus PATH), killed after CLI_TIMEOUT_MS; stdin is closed. */
function runCli(
  bin: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const proc = spawn(join(BIN, bin), args, {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), CLI_TIMEOUT_MS);
    proc.once('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** Asserts a clean exit, showing the CLI's output when it was not. */
function expectSuccess(r: CliResult): void {
  if (r.code !== 0) {
    throw new Error(
      `exit ${r.code} (signal ${r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
}

describe('coding CLIs through the gateway', () => {
  const { gw, mock } = useGateway();
  let home: string;

  beforeAll(async () => {
    await addMockNode(gw, 'mock', mock.baseUrl);
  });

  beforeEach(() => {
    mock.reset();
    home = mkdtempSync(join(tmpdir(), 'omni-cli-'));
  });

  afterEach(() => {
    rmSync(home, { recursive: true, force: true });
  });

  /** Surfaces of the usage rows written since `since`, oldest first. */
  async function surfacesSince(since: Date): Promise<string[]> {
    await gw.app.get(UsageService).flush();
    const rows = await queryDb(
      gw.dbUrl,
      'SELECT surface FROM usage_records WHERE created_at >= $1 ORDER BY created_at',
      [since],
    );
    return rows.map((r) => String(r.surface));
  }

  it('Claude Code (claude -p) speaks Anthropic Messages', async () => {
    const since = new Date();
    const r = await runCli(
      'claude',
      ['-p', PROMPT, '--model', MODEL],
      {
        HOME: home,
        ANTHROPIC_BASE_URL: gw.url,
        ANTHROPIC_API_KEY: gw.adminKey,
        ANTHROPIC_DEFAULT_HAIKU_MODEL: MODEL,
        ANTHROPIC_SMALL_FAST_MODEL: MODEL,
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        DISABLE_AUTOUPDATER: '1',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
      home,
    );
    expectSuccess(r);
    expect(r.stdout).toContain(mock.reply);
    expect(mock.requests.length).toBeGreaterThan(0);
    expect(mock.requests.some((q) => q.url === '/v1/chat/completions')).toBe(true);
    const surfaces = await surfacesSince(since);
    expect(surfaces.length).toBeGreaterThan(0);
    expect(new Set(surfaces)).toEqual(new Set(['anthropic']));
  });

  it('Codex CLI (codex exec) speaks Responses', async () => {
    const codexHome = join(home, '.codex');
    mkdirSync(codexHome);
    writeFileSync(
      join(codexHome, 'config.toml'),
      [
        `model = "${MODEL}"`,
        'model_provider = "omniroute"',
        'check_for_update_on_startup = false',
        // Codex's own tools are left as they are (it sends `web_search` and a `namespace` tool,
        // which the gateway leaves out when translating for a Chat Completions upstream).
        '',
        '[features]',
        // Off the network: no plugin/app sync (github.com, chatgpt.com), no analytics (ab.chatgpt.com).
        'plugins = false',
        'apps = false',
        '',
        '[analytics]',
        'enabled = false',
        '',
        '[model_providers.omniroute]',
        'name = "OmniRoute gateway"',
        `base_url = "${gw.url}/v1"`,
        'env_key = "OMNIROUTE_API_KEY"',
        'wire_api = "responses"',
        '',
      ].join('\n'),
    );
    const since = new Date();
    const r = await runCli(
      'codex',
      ['exec', '--skip-git-repo-check', '--sandbox', 'read-only', PROMPT],
      { HOME: home, CODEX_HOME: codexHome, OMNIROUTE_API_KEY: gw.adminKey },
      home,
    );
    expectSuccess(r);
    expect(r.stdout).toContain(mock.reply);
    expect(mock.requests.length).toBeGreaterThan(0);
    const surfaces = await surfacesSince(since);
    expect(surfaces.length).toBeGreaterThan(0);
    expect(new Set(surfaces)).toEqual(new Set(['responses']));
  });

  it('Gemini CLI (gemini -p) speaks generateContent', async () => {
    mkdirSync(join(home, '.gemini'));
    writeFileSync(
      join(home, '.gemini', 'settings.json'),
      JSON.stringify({
        security: { auth: { selectedType: 'gemini-api-key' } },
        general: { disableAutoUpdate: true, disableUpdateNag: true },
        privacy: { usageStatisticsEnabled: false },
        telemetry: { enabled: false },
      }),
    );
    const since = new Date();
    const r = await runCli(
      'gemini',
      ['-p', PROMPT, '-m', MODEL],
      {
        HOME: home,
        GEMINI_API_KEY: gw.adminKey,
        GOOGLE_GEMINI_BASE_URL: gw.url,
        GEMINI_TELEMETRY_ENABLED: 'false',
        GEMINI_CLI_TRUST_WORKSPACE: 'true',
      },
      home,
    );
    expectSuccess(r);
    expect(r.stdout).toContain(mock.reply);
    expect(mock.requests.length).toBeGreaterThan(0);
    const surfaces = await surfacesSince(since);
    expect(surfaces.length).toBeGreaterThan(0);
    expect(new Set(surfaces)).toEqual(new Set(['gemini']));
  });
});
