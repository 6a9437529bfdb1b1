import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { AppError } from '@/common/errors/app-error';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import {
  assignStepIds,
  checkComboGraph,
  expandTargets,
  normalizeSteps,
  normalizeStrategy,
  parseComboConfig,
  storedSteps,
  type ComboNode,
  type FieldError,
  type GraphIssue,
} from './combo-steps';
import type { Combo, ComboConfig, ComboStep, ComboStrategy, ComboTarget } from './combo.types';
import type { CreateComboDto, UpdateComboDto } from './dto/combo.dto';
import { ComboEntity } from './entities/combo.entity';

export type { Combo, ComboTarget } from './combo.types';

const CHANGED = 'combos:changed';
const REFRESH_MS = 30_000;
/** Serialises combo writes across replicas, so two saves can never build a cycle together. */
const WRITE_LOCK_ID = 7_202_611_261;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Snapshot {
  version: number;
  list: readonly Combo[];
  byName: ReadonlyMap<string, Combo>;
  byId: ReadonlyMap<string, Combo>;
  /** targets() results of this snapshot, by combo id. */
  targets: Map<string, readonly ComboTarget[]>;
}

const EMPTY: Snapshot = {
  version: 0,
  list: [],
  byName: new Map(),
  byId: new Map(),
  targets: new Map(),
};

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) {
      deepFreeze(v);
    }
  }
  return value;
}

export function toCombo(r: ComboEntity): Combo {
  return {
    id: r.id,
    name: r.name,
    version: 2,
    strategy: normalizeStrategy(r.strategy) ?? 'priority',
    models: storedSteps(r.steps),
    config: parseComboConfig(r.config).config,
    allowedProviders: Array.isArray(r.allowedProviders)
      ? r.allowedProviders.filter((p) => typeof p === 'string')
      : [],
    system_message: r.systemMessage,
    tool_filter_regex: r.toolFilterRegex,
    context_length: r.contextLength,
    isActive: r.isActive,
    isHidden: r.isHidden,
    sortOrder: r.sortOrder,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

function refsTo(row: ComboEntity, name: string): boolean {
  return storedSteps(row.steps).some((s) => s.kind === 'combo-ref' && s.comboName === name);
}

function invalid(fields: FieldError[], message = 'Invalid request', code = 'VALIDATION_FAILED') {
  return new AppError(code, 'INVALID_INPUT', message, { fields });
}

function nameExists(): AppError {
  return invalid(
    [{ field: 'name', message: 'Combo name already exists' }],
    'Combo name already exists',
    'COMBO_NAME_EXISTS',
  );
}

function inUse(name: string, referrers: string[], action: string): AppError {
  return new AppError(
    'COMBO_IN_USE',
    'CONFLICT',
    `Combo "${name}" is referenced by ${referrers.map((r) => `"${r}"`).join(', ')}; ` +
      `remove those references before ${action} it`,
    { referencedBy: referrers },
  );
}

/** The 400 for the first graph problem found (missing refs are listed together). */
function graphError(issues: GraphIssue[]): AppError | undefined {
  const missing = issues.filter((i) => i.kind === 'missing');
  if (missing.length) {
    return invalid(
      missing.map((i) => ({
        field: `models.${i.index}.comboName`,
        message: `combo "${i.comboName}" does not exist`,
      })),
    );
  }
  for (const i of issues) {
    if (i.kind === 'cycle') {
      const cycle = i.path.join(' > ');
      return new AppError('COMBO_CYCLE', 'INVALID_INPUT', `Combo reference cycle: ${cycle}`, {
        fields: [{ field: 'models', message: `combo references form a cycle: ${cycle}` }],
        cycle: i.path,
      });
    }
    if (i.kind === 'depth') {
      const chain = i.chain.join(' > ');
      return new AppError(
        'COMBO_DEPTH_EXCEEDED',
        'INVALID_INPUT',
        `Combo "${i.combo}" nests ${i.depth} levels deep (${chain}); its maxComboDepth is ${i.max}`,
        {
          fields: [
            {
              field: 'models',
              message: `nesting depth ${i.depth} exceeds maxComboDepth ${i.max} of "${i.combo}": ${chain}`,
            },
          ],
          combo: i.combo,
          depth: i.depth,
          maxComboDepth: i.max,
          chain: i.chain,
        },
      );
    }
  }
  return undefined;
}

function nodeOf(r: ComboEntity): ComboNode {
  return {
    name: r.name,
    models: storedSteps(r.steps),
    config: parseComboConfig(r.config).config,
    isActive: r.isActive,
  };
}

/**
 * Combos in Postgres, served to the hot path from an immutable in-memory snapshot (no database
 * query per request). The snapshot is reloaded after every write on this replica, when another
 * replica announces a change on the key-value channel `combos:changed`, and every 30 s in case a
 * message was lost. Writes take a transaction-scoped advisory lock and validate against the rows
 * read inside it, so concurrent saves on several replicas cannot create a reference cycle.
 *
 * Reads of the management API (`findAll`, `get`) go to the database; the hot path uses `byModel`,
 * `targets`, `list` and `version`, which are synchronous. Objects they return are shared and
 * frozen: copy before changing anything.
 */
@Injectable()
export class CombosService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CombosService.name);
  private readonly instanceId = randomUUID();
  private snap: Snapshot = EMPTY;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: Unsubscribe;
  private reloading?: Promise<void>;
  private reloadAgain = false;

  constructor(
    @InjectRepository(ComboEntity) private readonly repo: Repository<ComboEntity>,
    private readonly dataSource: DataSource,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(CHANGED, (from) => {
        if (from !== this.instanceId) {
          void this.reload();
        }
      })
      .catch(() => undefined);
    await this.reload();
    this.timer = setInterval(() => void this.reload(), REFRESH_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  // ---- hot path (synchronous, snapshot only) ----

  /**
   * The active combo a requested model names: its exact name, or `combo/<name>`. Inactive combos
   * and combos without steps give undefined (the request falls through to single-model routing).
   */
  byModel(model: string): Combo | undefined {
    let combo = this.snap.byName.get(model);
    if (!combo && model.startsWith('combo/')) {
      combo = this.snap.byName.get(model.slice('combo/'.length));
    }
    return combo && combo.isActive && combo.models.length > 0 ? combo : undefined;
  }

  /**
   * The combo's executable targets (combo-refs expanded, see `expandTargets`). Memoised per
   * snapshot: the array is a fresh copy on every call, the target objects are shared and frozen.
   */
  targets(combo: Combo): ComboTarget[] {
    const snap = this.snap;
    const current = snap.byId.get(combo.id) === combo;
    let list = current ? snap.targets.get(combo.id) : undefined;
    if (!list) {
      list = deepFreeze(expandTargets(combo, (name) => snap.byName.get(name)));
      if (current) {
        snap.targets.set(combo.id, list);
      }
    }
    return [...list];
  }

  /** Every combo of the snapshot, by sortOrder then createdAt (a fresh array of frozen combos). */
  list(): Combo[] {
    return [...this.snap.list];
  }

  /** Increments on every snapshot reload (cache key for what is derived from the combos). */
  version(): number {
    return this.snap.version;
  }

  /** Reloads the snapshot; concurrent calls coalesce into at most one more run. */
  async reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          const rows = await this.repo.find({ order: { sortOrder: 'ASC', createdAt: 'ASC' } });
          const list = deepFreeze(rows.map(toCombo));
          this.snap = {
            version: this.snap.version + 1,
            list,
            byName: new Map(list.map((c) => [c.name, c])),
            byId: new Map(list.map((c) => [c.id, c])),
            targets: new Map(),
          };
        } catch (e) {
          this.logger.warn(`combos snapshot reload failed: ${(e as Error).message}`);
        }
      } while (this.reloadAgain);
    })().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  // ---- management (database) ----

  async findAll(): Promise<Combo[]> {
    const rows = await this.repo.find({ order: { sortOrder: 'ASC', createdAt: 'ASC' } });
    return rows.map(toCombo);
  }

  async get(id: string): Promise<Combo> {
    const row = UUID_RE.test(id) ? await this.repo.findOne({ where: { id } }) : null;
    if (!row) {
      throw AppError.notFound('Combo not found', 'COMBO_NOT_FOUND');
    }
    return toCombo(row);
  }

  async create(dto: CreateComboDto): Promise<Combo> {
    return this.write(async (tx, rows) => {
      if (rows.some((r) => r.name === dto.name)) {
        throw nameExists();
      }
      const names = new Set([...rows.map((r) => r.name), dto.name]);
      const errors: FieldError[] = [];
      const steps = this.readSteps(dto.name, dto.models, names, errors);
      const config = this.readConfig(dto.config, errors);
      const strategy = this.readStrategy(dto.strategy ?? 'priority', errors);
      if (errors.length) {
        throw invalid(errors);
      }
      this.checkGraph(rows, { name: dto.name, models: steps, config }, undefined);
      const repo = tx.getRepository(ComboEntity);
      const saved = await repo.save(
        repo.create({
          name: dto.name,
          strategy,
          steps,
          config,
          allowedProviders: dto.allowedProviders ?? [],
          systemMessage: dto.system_message ?? null,
          toolFilterRegex: dto.tool_filter_regex ?? null,
          contextLength: dto.context_length ?? null,
          isActive: dto.isActive ?? true,
          isHidden: dto.isHidden ?? false,
          sortOrder: rows.reduce((max, r) => Math.max(max, r.sortOrder + 1), 0),
        }),
      );
      return toCombo(saved);
    });
  }

  /**
   * Partial update. `config` is replaced as a whole. Renaming a combo that other combos reference
   * is refused (409 naming them) rather than rewriting their steps behind their owner's back.
   */
  async update(id: string, dto: UpdateComboDto): Promise<Combo> {
    if (Object.values(dto).every((v) => v === undefined)) {
      throw AppError.invalid('No valid fields to update', {}, 'VALIDATION_FAILED');
    }
    await this.get(id); // 404 before taking the lock
    return this.write(async (tx, rows) => {
      const row = rows.find((r) => r.id === id.toLowerCase());
      if (!row) {
        throw AppError.notFound('Combo not found', 'COMBO_NOT_FOUND');
      }
      const oldName = row.name;
      const name = dto.name ?? oldName;
      const renamed = name !== oldName;
      if (renamed) {
        if (rows.some((r) => r.id !== row.id && r.name === name)) {
          throw nameExists();
        }
        const referrers = rows.filter((r) => r.id !== row.id && refsTo(r, oldName));
        if (referrers.length) {
          throw inUse(
            oldName,
            referrers.map((r) => r.name),
            'renaming',
          );
        }
      }
      const errors: FieldError[] = [];
      const names = new Set([...rows.filter((r) => r.id !== row.id).map((r) => r.name), name]);
      const steps =
        dto.models !== undefined
          ? this.readSteps(name, dto.models, names, errors)
          : assignStepIds(name, storedSteps(row.steps));
      const config =
        dto.config !== undefined
          ? this.readConfig(dto.config, errors)
          : parseComboConfig(row.config).config;
      const strategy =
        dto.strategy !== undefined
          ? this.readStrategy(dto.strategy, errors)
          : (normalizeStrategy(row.strategy) ?? 'priority');
      if (errors.length) {
        throw invalid(errors);
      }
      this.checkGraph(rows, { name, models: steps, config }, row.id);
      row.name = name;
      row.steps = steps;
      row.config = config;
      row.strategy = strategy;
      if (dto.allowedProviders !== undefined) {
        row.allowedProviders = dto.allowedProviders ?? [];
      }
      if (dto.system_message !== undefined) {
        row.systemMessage = dto.system_message;
      }
      if (dto.tool_filter_regex !== undefined) {
        row.toolFilterRegex = dto.tool_filter_regex;
      }
      if (dto.context_length !== undefined) {
        row.contextLength = dto.context_length;
      }
      if (dto.isActive !== undefined) {
        row.isActive = dto.isActive;
      }
      if (dto.isHidden !== undefined) {
        row.isHidden = dto.isHidden;
      }
      return toCombo(await tx.getRepository(ComboEntity).save(row));
    });
  }

  /** Deletes a combo; refused (409 naming them) while other combos reference it. */
  async remove(id: string): Promise<{ success: true }> {
    await this.get(id);
    return this.write(async (tx, rows) => {
      const row = rows.find((r) => r.id === id.toLowerCase());
      if (!row) {
        throw AppError.notFound('Combo not found', 'COMBO_NOT_FOUND');
      }
      const referrers = rows.filter((r) => r.id !== row.id && refsTo(r, row.name));
      if (referrers.length) {
        throw inUse(
          row.name,
          referrers.map((r) => r.name),
          'deleting',
        );
      }
      await tx.getRepository(ComboEntity).delete({ id: row.id });
      return { success: true as const };
    });
  }

  /**
   * New order: the listed combos first, in the given order, then the others in their current
   * order. Unknown or repeated ids are a 400. Returns every combo in the new order.
   */
  async reorder(comboIds: string[]): Promise<Combo[]> {
    const ids = comboIds.map((id) => id.toLowerCase());
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (dupes.length) {
      throw invalid([
        { field: 'comboIds', message: `duplicate ids: ${[...new Set(dupes)].join(', ')}` },
      ]);
    }
    return this.write(async (tx, rows) => {
      const known = new Set(rows.map((r) => r.id));
      const unknown = ids.filter((id) => !known.has(id));
      if (unknown.length) {
        throw invalid([{ field: 'comboIds', message: `unknown combo ids: ${unknown.join(', ')}` }]);
      }
      const listed = new Set(ids);
      const order = [...ids, ...rows.filter((r) => !listed.has(r.id)).map((r) => r.id)];
      // One statement; updated_at is left alone (the combos themselves did not change).
      await tx.query(
        `UPDATE combos c SET sort_order = v.ord - 1
           FROM unnest($1::uuid[]) WITH ORDINALITY AS v(id, ord)
          WHERE c.id = v.id AND c.sort_order <> v.ord - 1`,
        [order],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return order.map((id, i) => toCombo(Object.assign(byId.get(id)!, { sortOrder: i })));
    });
  }

  // ---- internals ----

  /**
   * Runs a write in a transaction holding the combos write lock, with every row as read inside
   * it; then reloads this replica's snapshot and tells the others.
   */
  private async write<T>(fn: (tx: EntityManager, rows: ComboEntity[]) => Promise<T>): Promise<T> {
    const result = await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK_ID]);
      const rows = await tx
        .getRepository(ComboEntity)
        .find({ order: { sortOrder: 'ASC', createdAt: 'ASC' } });
      return fn(tx, rows);
    });
    await this.reload();
    await this.kv.publish(CHANGED, this.instanceId).catch(() => undefined);
    return result;
  }

  private readSteps(
    name: string,
    models: unknown[],
    names: ReadonlySet<string>,
    errors: FieldError[],
  ): ComboStep[] {
    if (!Array.isArray(models)) {
      errors.push({ field: 'models', message: 'models must be an array' });
      return [];
    }
    const r = normalizeSteps(name, models, names);
    errors.push(...r.errors);
    return r.steps;
  }

  private readConfig(raw: unknown, errors: FieldError[]): ComboConfig {
    const r = parseComboConfig(raw);
    errors.push(...r.errors);
    return r.config;
  }

  private readStrategy(raw: string, errors: FieldError[]): ComboStrategy {
    const s = normalizeStrategy(raw);
    if (!s) {
      errors.push({ field: 'strategy', message: `unknown strategy ${raw}` });
    }
    return s ?? 'priority';
  }

  /** Throws the 400 for a missing ref, a cycle or too deep a nesting the change would bring. */
  private checkGraph(rows: ComboEntity[], candidate: ComboNode, replacesId: string | undefined) {
    const nodes = new Map<string, ComboNode>();
    for (const r of rows) {
      if (r.id !== replacesId) {
        nodes.set(r.name, nodeOf(r));
      }
    }
    nodes.set(candidate.name, candidate);
    const err = graphError(checkComboGraph(nodes, candidate.name));
    if (err) {
      throw err;
    }
  }
}
