import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AppError } from '@/common/errors/app-error';
import { SettingsService } from '@/settings/settings.service';
import { AliasIndex, aliasProblem, sanitizeAliases, type AliasMap } from './aliases';

/** The settings key of the alias map (reference §4.5 `modelAliases`). */
export const ALIASES_SETTING = 'modelAliases';

function invalid(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', 'INVALID_INPUT', 'Invalid request', {
    fields: [{ field, message }],
  });
}

/**
 * Model aliases (`{alias: "provider/model"}`, settings key `modelAliases`): a model name without a
 * `/` that is not a combo is looked up here before routing. Lookups read an in-memory index that
 * follows every replica's writes (settings change broadcast, 30 s safety refresh).
 */
@Injectable()
export class AliasesService implements OnModuleInit, OnModuleDestroy {
  private index = new AliasIndex({});
  private stop?: () => Promise<void>;
  private writes: Promise<unknown> = Promise.resolve();
  /** Bumped on every change (part of the catalogue version). */
  version = 0;

  constructor(private readonly settings: SettingsService) {}

  async onModuleInit(): Promise<void> {
    this.stop = await this.settings.watch(ALIASES_SETTING, (v) => this.apply(sanitizeAliases(v)));
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop?.();
  }

  private apply(map: AliasMap): void {
    if (JSON.stringify(map) !== JSON.stringify(this.index.map)) {
      this.index = new AliasIndex(map);
      this.version++;
    }
  }

  /** Synchronous (hot path): the alias naming `model`, if any. */
  resolve(model: string): { alias: string; target: string } | undefined {
    return this.index.lookup(model);
  }

  list(): AliasMap {
    return { ...this.index.map };
  }

  /** Sets `alias` → `target` (`provider/model`, or a combo name checked by the caller). */
  set(alias: unknown, target: unknown): Promise<AliasMap> {
    const problem = aliasProblem(alias);
    if (problem) {
      throw invalid('alias', problem);
    }
    if (typeof target !== 'string' || !target.trim() || target.length > 300) {
      throw invalid('model', 'model is required: the provider/model (or combo) the alias names');
    }
    const name = alias as string;
    return this.write((m) => ({ ...m, [name]: target.trim() }));
  }

  async remove(alias: string): Promise<AliasMap> {
    if (!Object.hasOwn(this.index.map, alias)) {
      // re-read: another replica may have added it a moment ago
      const stored = sanitizeAliases(await this.settings.get<unknown>(ALIASES_SETTING, {}));
      if (!Object.hasOwn(stored, alias)) {
        throw AppError.notFound(`Alias "${alias}" does not exist`, 'ALIAS_NOT_FOUND');
      }
    }
    return this.write((m) => {
      const next = { ...m };
      delete next[alias];
      return next;
    });
  }

  /** Read-modify-write, one at a time in this process. */
  private write(change: (current: AliasMap) => AliasMap): Promise<AliasMap> {
    const run = this.writes.then(async () => {
      const next = change(sanitizeAliases(await this.settings.get<unknown>(ALIASES_SETTING, {})));
      await this.settings.set(ALIASES_SETTING, next);
      this.apply(next);
      return next;
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
}
