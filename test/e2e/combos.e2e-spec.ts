import { CombosService } from '../../src/combos/combos.service';
import type { Combo } from '../../src/combos/combo.types';
import { startTestApp, type TestApp } from '../support/app';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import {
  addMockNode,
  call,
  codeOf,
  fieldsOf,
  type Gateway,
  type ManagementError,
} from '../support/gateway-client';

const MISSING_ID = '00000000-0000-0000-0000-000000000000';

async function createCombo(gw: Gateway, body: Record<string, unknown>): Promise<Combo> {
  const r = await call(gw, 'POST', '/api/combos', { body });
  if (r.status !== 201) {
    throw new Error(`combo create: ${r.status} ${r.text}`);
  }
  return r.json as Combo;
}

async function modelIds(gw: Gateway, key?: string): Promise<string[]> {
  const r = await call(gw, 'GET', '/v1/models', key ? { key } : {});
  expect(r.status).toBe(200);
  return (r.json as { data: { id: string }[] }).data.map((m) => m.id);
}

/** Polls until `check` holds (or the time is up); returns how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) {
      throw new Error(`condition not met within ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

describe('/api/combos', () => {
  const { gw } = useGateway({ mock: false });

  it('rejects calls without credentials', async () => {
    expect((await call(gw, 'GET', '/api/combos', { key: null })).status).toBe(401);
    expect(
      (await call(gw, 'POST', '/api/combos', { key: null, body: { name: 'x', models: ['a/b'] } }))
        .status,
    ).toBe(401);
  });

  describe('CRUD', () => {
    it('creates (201), lists, gets, updates partially and deletes a combo', async () => {
      const conn = '6f1c2d3e-0000-4000-8000-000000000001';
      const created = await createCombo(gw, {
        name: 'crud/main',
        strategy: 'fill-first',
        models: [
          'openai/gpt-4o-mini',
          {
            model: 'groq/llama-3.1-8b',
            connectionId: conn,
            weight: 40,
            label: 'cheap',
            tags: ['x'],
          },
        ],
        config: { maxRetries: 2, timeoutMs: 30000 },
        allowedProviders: ['openai', 'groq'],
        system_message: 'Be brief.',
        tool_filter_regex: '^search_',
        context_length: 128000,
      });
      expect(created).toMatchObject({
        name: 'crud/main',
        version: 2,
        strategy: 'priority', // alias normalised
        models: [
          {
            id: 'crud-main-model-1-openai-gpt-4o-mini',
            kind: 'model',
            model: 'openai/gpt-4o-mini',
            connectionId: null,
            weight: 0,
            label: null,
            tags: [],
          },
          {
            id: 'crud-main-model-2-groq-llama-3-1-8b',
            kind: 'model',
            model: 'groq/llama-3.1-8b',
            connectionId: conn,
            weight: 40,
            label: 'cheap',
            tags: ['x'],
          },
        ],
        config: { maxRetries: 2, timeoutMs: 30000 },
        allowedProviders: ['openai', 'groq'],
        system_message: 'Be brief.',
        tool_filter_regex: '^search_',
        context_length: 128000,
        isActive: true,
        isHidden: false,
      });
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(created.createdAt)).not.toBeNaN();

      const list = await call(gw, 'GET', '/api/combos');
      expect(list.status).toBe(200);
      expect((list.json as { combos: Combo[] }).combos).toContainEqual(created);

      const one = await call(gw, 'GET', `/api/combos/${created.id}`);
      expect(one.status).toBe(200);
      expect(one.json).toEqual(created);

      const put = await call(gw, 'PUT', `/api/combos/${created.id}`, {
        body: { strategy: 'cost', isActive: false, isHidden: true, system_message: null },
      });
      expect(put.status).toBe(200);
      const updated = put.json as Combo;
      expect(updated).toMatchObject({
        ...created,
        strategy: 'cost-optimized',
        isActive: false,
        isHidden: true,
        system_message: null,
        updatedAt: expect.any(String),
      });
      // config is replaced as a whole.
      const put2 = await call(gw, 'PUT', `/api/combos/${created.id}`, {
        body: { config: { maxComboDepth: 2 } },
      });
      expect((put2.json as Combo).config).toEqual({ maxComboDepth: 2 });

      const rows = await queryDb(gw.dbUrl, 'SELECT strategy, is_hidden FROM combos WHERE id = $1', [
        created.id,
      ]);
      expect(rows).toEqual([{ strategy: 'cost-optimized', is_hidden: true }]);

      const del = await call(gw, 'DELETE', `/api/combos/${created.id}`);
      expect(del.status).toBe(200);
      expect(del.json).toEqual({ success: true });
      expect((await call(gw, 'GET', `/api/combos/${created.id}`)).status).toBe(404);
    });

    it('renames a combo and recomputes its step ids', async () => {
      const c = await createCombo(gw, { name: 'rename-me', models: ['p/m'] });
      const r = await call(gw, 'PUT', `/api/combos/${c.id}`, { body: { name: 'renamed' } });
      expect(r.status).toBe(200);
      expect((r.json as Combo).models[0].id).toBe('renamed-model-1-p-m');
    });

    it('answers 404 for an unknown or malformed id on GET, PUT and DELETE', async () => {
      for (const id of [MISSING_ID, 'not-a-uuid']) {
        const get = await call(gw, 'GET', `/api/combos/${id}`);
        expect(get.status).toBe(404);
        expect(codeOf(get.json)).toBe('COMBO_NOT_FOUND');
        expect(
          (await call(gw, 'PUT', `/api/combos/${id}`, { body: { isActive: false } })).status,
        ).toBe(404);
        expect((await call(gw, 'DELETE', `/api/combos/${id}`)).status).toBe(404);
      }
    });
  });

  describe('validation', () => {
    const valid = { name: 'v-ok', models: ['openai/gpt-4o'] };
    const cases: [string, Record<string, unknown>, string][] = [
      ['name missing', { models: ['a/b'] }, 'name'],
      ['name with a space', { ...valid, name: 'bad name' }, 'name'],
      ['name too long', { ...valid, name: 'n'.repeat(101) }, 'name'],
      ['models missing', { name: 'v1' }, 'models'],
      ['models empty', { ...valid, models: [] }, 'models'],
      ['models not an array', { ...valid, models: 'a/b' }, 'models'],
      ['a step that is a number', { ...valid, models: [42] }, 'models.0'],
      ['an empty model string', { ...valid, models: ['a/b', ''] }, 'models.1'],
      ['weight over 100', { ...valid, models: [{ model: 'a/b', weight: 101 }] }, 'models.0.weight'],
      [
        'connectionId not a uuid',
        { ...valid, models: [{ model: 'a/b', connectionId: 'x' }] },
        'models.0.connectionId',
      ],
      ['unknown step property', { ...valid, models: [{ model: 'a/b', x: 1 }] }, 'models.0.x'],
      ['unknown step kind', { ...valid, models: [{ kind: 'tool' }] }, 'models.0.kind'],
      ['unknown strategy', { ...valid, strategy: 'fastest' }, 'strategy'],
      [
        'unknown config key',
        { ...valid, config: { concurrencyPerModel: 2 } },
        'config.concurrencyPerModel',
      ],
      ['maxRetries > 10', { ...valid, config: { maxRetries: 11 } }, 'config.maxRetries'],
      [
        'retryDelayMs > 60000',
        { ...valid, config: { retryDelayMs: 60001 } },
        'config.retryDelayMs',
      ],
      ['maxComboDepth 0', { ...valid, config: { maxComboDepth: 0 } }, 'config.maxComboDepth'],
      ['maxComboDepth 6', { ...valid, config: { maxComboDepth: 6 } }, 'config.maxComboDepth'],
      ['timeoutMs < 1000', { ...valid, config: { timeoutMs: 999 } }, 'config.timeoutMs'],
      ['config not an object', { ...valid, config: 'fast' }, 'config'],
      [
        'allowedProviders not an array',
        { ...valid, allowedProviders: 'openai' },
        'allowedProviders',
      ],
      [
        'system_message too long',
        { ...valid, system_message: 's'.repeat(50001) },
        'system_message',
      ],
      [
        'tool_filter_regex does not compile',
        { ...valid, tool_filter_regex: '(' },
        'tool_filter_regex',
      ],
      [
        'tool_filter_regex too long',
        { ...valid, tool_filter_regex: 'a'.repeat(1001) },
        'tool_filter_regex',
      ],
      ['context_length < 1000', { ...valid, context_length: 999 }, 'context_length'],
      ['context_length > 2000000', { ...valid, context_length: 2000001 }, 'context_length'],
      ['isActive not a boolean', { ...valid, isActive: 'yes' }, 'isActive'],
      [
        'a combo-ref to a missing combo',
        { ...valid, models: [{ kind: 'combo-ref', comboName: 'nowhere' }] },
        'models.0.comboName',
      ],
    ];

    it.each(cases)('POST answers 400 with the field for %s', async (_title, body, field) => {
      const r = await call(gw, 'POST', '/api/combos', { body });
      expect(r.status).toBe(400);
      expect(fieldsOf(r.json)).toContain(field);
    });

    it('refuses a duplicate name with 400 "Combo name already exists"', async () => {
      await createCombo(gw, { name: 'dup-name', models: ['a/b'] });
      const r = await call(gw, 'POST', '/api/combos', {
        body: { name: 'dup-name', models: ['c/d'] },
      });
      expect(r.status).toBe(400);
      expect((r.json as ManagementError).error.message).toBe('Combo name already exists');
      expect(fieldsOf(r.json)).toEqual(['name']);
      // Uniqueness is exact: another case is another combo.
      await createCombo(gw, { name: 'DUP-name', models: ['a/b'] });
    });

    it('PUT validates like POST, refuses an empty body and a name taken by another combo', async () => {
      const c = await createCombo(gw, { name: 'put-valid', models: ['a/b'] });
      await createCombo(gw, { name: 'put-taken', models: ['a/b'] });
      const bad: [Record<string, unknown>, string][] = [
        [{ models: [] }, 'models'],
        [{ config: { nope: 1 } }, 'config.nope'],
        [{ strategy: 'x' }, 'strategy'],
        [{ context_length: 1 }, 'context_length'],
        [{ name: 'put-taken' }, 'name'],
      ];
      for (const [body, field] of bad) {
        const r = await call(gw, 'PUT', `/api/combos/${c.id}`, { body });
        expect({ body, status: r.status }).toEqual({ body, status: 400 });
        expect(fieldsOf(r.json)).toContain(field);
      }
      const empty = await call(gw, 'PUT', `/api/combos/${c.id}`, { body: {} });
      expect(empty.status).toBe(400);
      expect(codeOf(empty.json)).toBe('VALIDATION_FAILED');
      // Nothing was changed by the refused updates.
      const got = await call(gw, 'GET', `/api/combos/${c.id}`);
      expect((got.json as Combo).name).toBe('put-valid');
    });
  });

  describe('nested combos', () => {
    it('makes a bare string naming a combo a combo-ref step', async () => {
      await createCombo(gw, { name: 'n-child', models: ['a/b'] });
      const parent = await createCombo(gw, { name: 'n-parent', models: ['n-child', 'gpt-4o'] });
      expect(parent.models).toEqual([
        { id: 'n-parent-ref-1-n-child', kind: 'combo-ref', comboName: 'n-child', weight: 0 },
        expect.objectContaining({ kind: 'model', model: 'gpt-4o' }),
      ]);
    });

    it('refuses a self reference and a cycle with 400 naming the cycle', async () => {
      const self = await call(gw, 'POST', '/api/combos', {
        body: { name: 'cyc-self', models: ['a/b', 'cyc-self'] },
      });
      expect(self.status).toBe(400);
      expect(codeOf(self.json)).toBe('COMBO_CYCLE');
      expect((self.json as ManagementError).error.message).toContain('cyc-self > cyc-self');
      expect(fieldsOf(self.json)).toEqual(['models']);

      const b = await createCombo(gw, { name: 'cyc-b', models: ['a/b'] });
      await createCombo(gw, { name: 'cyc-a', models: ['cyc-b'] });
      const r = await call(gw, 'PUT', `/api/combos/${b.id}`, { body: { models: ['cyc-a'] } });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('COMBO_CYCLE');
      expect((r.json as ManagementError).error.message).toContain('cyc-b > cyc-a > cyc-b');
      const still = await call(gw, 'GET', `/api/combos/${b.id}`);
      expect((still.json as Combo).models[0]).toMatchObject({ kind: 'model', model: 'a/b' });
    });

    it('allows 3 nesting levels by default, refuses a 4th, and honours maxComboDepth', async () => {
      await createCombo(gw, { name: 'd0', models: ['a/b'] });
      await createCombo(gw, { name: 'd1', models: ['d0'] });
      await createCombo(gw, { name: 'd2', models: ['d1'] });
      await createCombo(gw, { name: 'd3', models: ['d2'] }); // d3 > d2 > d1 > d0: 3 levels
      const deep = await call(gw, 'POST', '/api/combos', { body: { name: 'd4', models: ['d3'] } });
      expect(deep.status).toBe(400);
      expect(codeOf(deep.json)).toBe('COMBO_DEPTH_EXCEEDED');
      expect((deep.json as ManagementError).error.message).toContain('d4 > d3 > d2 > d1 > d0');
      expect(fieldsOf(deep.json)).toEqual(['models']);
      await createCombo(gw, { name: 'd4', models: ['d3'], config: { maxComboDepth: 4 } });
      const shallow = await call(gw, 'POST', '/api/combos', {
        body: { name: 'd2-strict', models: ['d1'], config: { maxComboDepth: 1 } },
      });
      expect(shallow.status).toBe(400);
      expect(codeOf(shallow.json)).toBe('COMBO_DEPTH_EXCEEDED');
    });

    it('refuses to deepen a combo when that breaks a combo referencing it', async () => {
      await createCombo(gw, { name: 'p-leaf', models: ['a/b'] });
      await createCombo(gw, { name: 'p-extra', models: ['p-leaf'] });
      const c = await createCombo(gw, { name: 'p-c', models: ['a/b'] });
      await createCombo(gw, { name: 'p-b', models: ['p-c'] });
      await createCombo(gw, { name: 'p-a', models: ['p-b'] });
      // p-c gains two levels: p-a > p-b > p-c > p-extra > p-leaf is 4 deep for p-a.
      const r = await call(gw, 'PUT', `/api/combos/${c.id}`, { body: { models: ['p-extra'] } });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('COMBO_DEPTH_EXCEEDED');
      expect((r.json as ManagementError).error.message).toContain('"p-a"');
    });

    it('answers 409 naming the referrer when deleting or renaming a referenced combo', async () => {
      const child = await createCombo(gw, { name: 'used-child', models: ['a/b'] });
      await createCombo(gw, { name: 'used-parent', models: ['used-child', 'c/d'] });
      const del = await call(gw, 'DELETE', `/api/combos/${child.id}`);
      expect(del.status).toBe(409);
      expect(codeOf(del.json)).toBe('COMBO_IN_USE');
      expect((del.json as ManagementError).error.message).toContain('"used-parent"');
      const ren = await call(gw, 'PUT', `/api/combos/${child.id}`, { body: { name: 'used-2' } });
      expect(ren.status).toBe(409);
      expect(codeOf(ren.json)).toBe('COMBO_IN_USE');
      // Deactivating it is fine (the parent skips it when routing).
      const off = await call(gw, 'PUT', `/api/combos/${child.id}`, { body: { isActive: false } });
      expect(off.status).toBe(200);
      expect((await call(gw, 'GET', `/api/combos/${child.id}`)).status).toBe(200);
    });

    it('expands targets through refs in the snapshot (the hot-path view)', async () => {
      await createCombo(gw, { name: 't-child', models: ['q/one', 'q/two'] });
      await createCombo(gw, { name: 't-top', models: ['p/first', 't-child'] });
      const svc = gw.app.get(CombosService);
      const top = svc.byModel('combo/t-top');
      expect(top?.name).toBe('t-top');
      expect(svc.targets(top!).map((t) => [t.model, t.executionKey])).toEqual([
        ['p/first', 't-top-model-1-p-first'],
        ['q/one', 't-top-ref-2-t-child>t-child-model-1-q-one'],
        ['q/two', 't-top-ref-2-t-child>t-child-model-2-q-two'],
      ]);
    });
  });

  describe('reorder', () => {
    it('puts the listed combos first in the given order, the others after', async () => {
      const a = await createCombo(gw, { name: 'ord-a', models: ['a/b'] });
      const b = await createCombo(gw, { name: 'ord-b', models: ['a/b'] });
      const c = await createCombo(gw, { name: 'ord-c', models: ['a/b'] });
      const r = await call(gw, 'POST', '/api/combos/reorder', { body: { comboIds: [c.id, a.id] } });
      expect(r.status).toBe(200);
      const names = (r.json as { combos: Combo[] }).combos.map((x) => x.name);
      expect(names.slice(0, 2)).toEqual(['ord-c', 'ord-a']);
      expect(names.filter((n) => n.startsWith('ord-'))).toEqual(['ord-c', 'ord-a', 'ord-b']);
      expect((r.json as { combos: Combo[] }).combos.map((x) => x.sortOrder)).toEqual(
        names.map((_n, i) => i),
      );
      const list = await call(gw, 'GET', '/api/combos');
      expect((list.json as { combos: Combo[] }).combos.map((x) => x.name)).toEqual(names);
      expect(b.id).toBeDefined();
    });

    it('answers 400 for unknown or repeated ids and a missing list', async () => {
      const a = await createCombo(gw, { name: 'ord-bad', models: ['a/b'] });
      for (const body of [
        { comboIds: [a.id, MISSING_ID] },
        { comboIds: [a.id, a.id] },
        { comboIds: [] },
        {},
      ]) {
        const r = await call(gw, 'POST', '/api/combos/reorder', { body });
        expect({ body, status: r.status }).toEqual({ body, status: 400 });
        expect(fieldsOf(r.json)).toContain('comboIds');
      }
    });
  });

  describe('/v1/models', () => {
    it('lists active combos (owned_by "combo") but not inactive or hidden ones', async () => {
      const on = await createCombo(gw, { name: 'm-on', models: ['a/b'], context_length: 64000 });
      await createCombo(gw, { name: 'm-off', models: ['a/b'], isActive: false });
      const hidden = await createCombo(gw, { name: 'm-hidden', models: ['a/b'], isHidden: true });
      const r = await call(gw, 'GET', '/v1/models');
      const entry = (r.json as { data: Record<string, unknown>[] }).data.find(
        (m) => m.id === 'm-on',
      );
      expect(entry).toEqual({
        id: 'm-on',
        object: 'model',
        created: expect.any(Number),
        owned_by: 'combo',
        type: 'chat',
        root: 'm-on',
        parent: null,
        permission: [],
        context_length: 64000,
      });
      let ids = await modelIds(gw);
      expect(ids).not.toContain('m-off');
      expect(ids).not.toContain('m-hidden');

      await call(gw, 'PUT', `/api/combos/${hidden.id}`, { body: { isHidden: false } });
      await call(gw, 'PUT', `/api/combos/${on.id}`, { body: { isActive: false } });
      ids = await modelIds(gw);
      expect(ids).toContain('m-hidden');
      expect(ids).not.toContain('m-on');
    });

    it("applies a key's allowed-models list to combo names", async () => {
      await createCombo(gw, { name: 'allow-yes', models: ['a/b'] });
      await createCombo(gw, { name: 'allow-no', models: ['a/b'] });
      const k = await call(gw, 'POST', '/api/keys', { body: { name: 'combo-limited' } });
      const { id, key } = k.json as { id: string; key: string };
      const p = await call(gw, 'PATCH', `/api/keys/${id}`, {
        body: { allowedModels: ['allow-y*'] },
      });
      expect(p.status).toBe(200);
      const ids = await modelIds(gw, key);
      expect(ids).toContain('allow-yes');
      expect(ids).not.toContain('allow-no');
    });
  });
});

describe('/api/combos across replicas', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    // The change notice travels through Redis pub/sub: Redis even in the memory-store run.
    a = await startTestApp({ redis: true });
    b = await startTestApp({ dbUrl: a.dbUrl, redisPrefix: a.redisPrefix, redis: true });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a combo created, changed and deleted on A reaches B at once (pub/sub, not the 30 s timer)', async () => {
    const bCombos = b.app.get(CombosService);
    expect(bCombos.byModel('rep-combo')).toBeUndefined();
    const versionBefore = bCombos.version();

    const created = await createCombo(a, { name: 'rep-combo', models: ['a/b'] });
    expect(
      await within(1000, () => Promise.resolve(bCombos.byModel('rep-combo') !== undefined)),
    ).toBeLessThan(1000);
    expect(bCombos.version()).toBeGreaterThan(versionBefore);
    expect(await modelIds(b)).toContain('rep-combo');

    await call(a, 'PUT', `/api/combos/${created.id}`, { body: { isActive: false } });
    await within(1000, () => Promise.resolve(bCombos.byModel('rep-combo') === undefined));
    expect(await modelIds(b)).not.toContain('rep-combo');

    await call(a, 'DELETE', `/api/combos/${created.id}`);
    await within(1000, () => Promise.resolve(!bCombos.list().some((c) => c.name === 'rep-combo')));
    expect((await call(b, 'GET', `/api/combos/${created.id}`)).status).toBe(404);
  });

  it('validation on B sees what A wrote (a cycle across replicas is refused)', async () => {
    const x = await createCombo(a, { name: 'rep-x', models: ['a/b'] });
    await createCombo(b, { name: 'rep-y', models: ['rep-x'] });
    const r = await call(a, 'PUT', `/api/combos/${x.id}`, { body: { models: ['rep-y'] } });
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('COMBO_CYCLE');
  });
});

describe('POST /api/combos/test', () => {
  const { gw, mock } = useGateway();

  it('calls every target once and names the one the strategy would serve from', async () => {
    const { connectionIds } = await addMockNode(gw, 'ct', mock.baseUrl);
    await createCombo(gw, {
      name: 'tested',
      strategy: 'priority',
      models: ['ct/fail-500', 'ct/gpt-4o-mini', 'nowhere/x'],
    });
    const before = mock.stats().chatCompletions;
    const r = await call(gw, 'POST', '/api/combos/test', { body: { comboName: 'tested' } });
    expect(r.status).toBe(200);
    const body = r.json as {
      comboName: string;
      strategy: string;
      resolvedBy: string;
      resolvedByTarget: { model: string; connectionId: string; stepId: string };
      results: { model: string; ok: boolean; status: number | null; error: string | null }[];
      unresolved: { model: string; reason: string }[];
    };
    expect(body).toMatchObject({ comboName: 'tested', strategy: 'priority' });
    expect(body.results.map((x) => [x.model, x.ok, x.status])).toEqual([
      ['ct/fail-500', false, 500],
      ['ct/gpt-4o-mini', true, 200],
    ]);
    expect(body.results[0].error).toMatch(/mock fail-500/);
    expect(body.resolvedBy).toBe('ct/gpt-4o-mini');
    expect(body.resolvedByTarget.connectionId).toBe(connectionIds[0]);
    expect(body.resolvedByTarget.stepId).toMatch(/^tested-model-2-/);
    expect(body.unresolved).toEqual([
      expect.objectContaining({ model: 'nowhere/x', reason: expect.stringMatching(/nowhere/) }),
    ]);
    expect(mock.stats().chatCompletions - before).toBe(2);
    // a test call is not an account failure: the combo still serves from its first healthy target
    const chat = await call(gw, 'POST', '/v1/chat/completions', {
      body: { model: 'tested', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(chat.status).toBe(200);
  });

  it('answers 404 for an unknown combo and 400 without a name', async () => {
    const missing = await call(gw, 'POST', '/api/combos/test', { body: { comboName: 'nope' } });
    expect(missing.status).toBe(404);
    expect(codeOf(missing.json)).toBe('COMBO_NOT_FOUND');
    const bad = await call(gw, 'POST', '/api/combos/test', { body: {} });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.json).join(' ')).toMatch(/comboName/);
  });
});

describe('combo request rewrites', () => {
  const { gw, mock } = useGateway();

  it('replaces the system prompt and keeps only the tools the filter matches', async () => {
    await addMockNode(gw, 'rw', mock.baseUrl);
    await createCombo(gw, {
      name: 'rewritten',
      models: ['rw/gpt-4o-mini'],
      system_message: 'You are the combo system prompt.',
      tool_filter_regex: '^search_',
    });
    const tool = (name: string): Record<string, unknown> => ({
      type: 'function',
      function: { name, parameters: { type: 'object', properties: {} } },
    });
    const r = await call(gw, 'POST', '/v1/chat/completions', {
      body: {
        model: 'rewritten',
        messages: [
          { role: 'system', content: 'client system prompt' },
          { role: 'user', content: 'hi' },
        ],
        tools: [tool('search_web'), tool('delete_all'), tool('search_docs')],
        tool_choice: { type: 'function', function: { name: 'delete_all' } },
      },
    });
    expect(r.status).toBe(200);
    const sent = mock.requests.at(-1)?.body as {
      messages: { role: string; content: unknown }[];
      tools: { function: { name: string } }[];
      tool_choice: unknown;
    };
    expect(sent.messages[0]).toMatchObject({ role: 'system' });
    expect(JSON.stringify(sent.messages[0].content)).toContain('You are the combo system prompt.');
    expect(JSON.stringify(sent.messages)).not.toContain('client system prompt');
    expect(sent.tools.map((t) => t.function.name)).toEqual(['search_web', 'search_docs']);
    expect(sent.tool_choice).toBe('auto');
  });

  it('drops every tool when none matches', async () => {
    await createCombo(gw, {
      name: 'no-tools',
      models: ['rw/gpt-4o-mini'],
      tool_filter_regex: '^never$',
    });
    const r = await call(gw, 'POST', '/v1/chat/completions', {
      body: {
        model: 'no-tools',
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'x', parameters: { type: 'object' } } }],
      },
    });
    expect(r.status).toBe(200);
    const sent = mock.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent.tools).toBeUndefined();
    expect(sent.tool_choice).toBeUndefined();
  });
});
