import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  OnModuleInit,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Repository } from 'typeorm';
import { AppError } from '@/common/errors/app-error';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { Env } from '@/config/env.schema';
import { normalizeBudget, normalizeSchedule } from '@/policies/normalize';
import type { KeyPolicyFields } from '@/policies/policy.types';
import { SettingsService } from '@/settings/settings.service';
import type {
  ApiKeyListResponse,
  ApiKeyResponse,
  CreatedApiKeyResponse,
} from './dto/api-key.response';
import type { CreateApiKeyDto, UpdateApiKeyDto } from './dto/create-api-key.dto';
import { ApiKey, type KeyScope } from './entities/api-key.entity';

/** A well-formed uuid: anything else is a 404 without a query (Postgres would reject the cast). */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What the hot path needs to know about an authenticated key (cached in memory), the per-key
 * policies included (access schedule, RPM/RPD/TPM, budget: see the policies module).
 */
export interface KeyPrincipal extends KeyPolicyFields {
  id: string;
  name: string;
  scopes: readonly KeyScope[];
  noLog: boolean;
  allowedModels: readonly string[];
  allowedConnections: readonly string[];
  /** Most concurrently active sessions (sessions module); null = unlimited. */
  maxSessions: number | null;
}

export type KeyCheck =
  | { ok: true; key: KeyPrincipal }
  | { ok: false; reason: 'unknown' | 'revoked' | 'disabled' | 'expired' };

const INVALIDATE = 'keys:invalidate';
const CACHE_MAX = 10_000;

export function hashKey(raw: string): string {
  return createHash('sha256').update(raw).digest('hex');
}

export function generateKey(): string {
  return `sk-${randomBytes(24).toString('base64url')}`;
}

/** The policy fields a create/update body sets (normalized; null clears), validated. */
function policyFieldsOf(dto: CreateApiKeyDto | UpdateApiKeyDto): Partial<KeyPolicyFields> {
  const out: Partial<KeyPolicyFields> = {};
  if (dto.accessSchedule !== undefined) {
    out.accessSchedule = dto.accessSchedule && normalizeSchedule(dto.accessSchedule);
  }
  if (dto.budget !== undefined) {
    out.budget = dto.budget && normalizeBudget(dto.budget);
  }
  for (const k of ['maxRequestsPerMinute', 'maxRequestsPerDay', 'maxTokensPerMinute'] as const) {
    if (dto[k] !== undefined) {
      out[k] = dto[k];
    }
  }
  return out;
}

/** A row's policy fields as responses and the principal carry them. */
function policyView(r: ApiKey): KeyPolicyFields {
  return {
    accessSchedule: r.accessSchedule ?? null,
    maxRequestsPerMinute: r.maxRequestsPerMinute ?? null,
    maxRequestsPerDay: r.maxRequestsPerDay ?? null,
    maxTokensPerMinute: r.maxTokensPerMinute ?? null,
    budget: r.budget ?? null,
  };
}

export function maskKey(prefix: string, last4: string): string {
  return `${prefix}****${last4}`;
}

/**
 * Client API keys: stored as SHA-256 + display prefix, the full key shown once. Lookups on the hot
 * path hit a bounded in-memory cache (`API_KEY_CACHE_TTL_MS`); any change is broadcast through the
 * key-value store so every replica drops its cached copy at once, and the TTL bounds it anyway.
 */
@Injectable()
export class KeysService implements OnModuleInit, OnModuleDestroy, OnApplicationBootstrap {
  private readonly logger = new Logger(KeysService.name);
  private readonly cache = new Map<string, { check: KeyCheck; until: number; expiresAt: number }>();
  private readonly pendingLookups = new Map<string, Promise<KeyCheck>>();
  private readonly touched = new Set<string>();
  private touchTimer?: NodeJS.Timeout;
  private unsubscribe?: Unsubscribe;

  constructor(
    @InjectRepository(ApiKey) private readonly repo: Repository<ApiKey>,
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly settings: SettingsService,
    private readonly env: Env,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(INVALIDATE, (hash) =>
        hash === '*' ? this.cache.clear() : this.cache.delete(hash),
      )
      .catch(() => undefined);
    this.touchTimer = setInterval(() => void this.flushTouched(), 15_000);
    this.touchTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.touchTimer);
    await this.flushTouched();
    await this.unsubscribe?.();
  }

  /** First start with an empty database: issue an admin key once, print it, save it to DATA_DIR. */
  async onApplicationBootstrap(): Promise<void> {
    const raw = this.env.INITIAL_ADMIN_KEY ?? generateKey();
    const first = await this.settings.setIfAbsent(
      'bootstrap.initialAdminKeyIssued',
      new Date().toISOString(),
    );
    if (!first) {
      return;
    }
    const existing = await this.repo.findOne({ where: { keyHash: hashKey(raw) } });
    if (!existing) {
      await this.insert(raw, { name: 'initial-admin', scopes: ['admin', 'inference'] });
    }
    const dir = resolve(this.env.DATA_DIR);
    const file = join(dir, 'initial-admin-key');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, `${raw}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
    } catch (e) {
      this.logger.warn(`could not write ${file}: ${(e as Error).message}`);
    }
    if (this.env.INITIAL_ADMIN_KEY) {
      this.logger.log('initial admin key created from INITIAL_ADMIN_KEY');
    } else {
      // Printed once, on purpose: this is how the operator gets the first key.
      process.stdout.write(
        `\n  omniroute-gateway: initial admin API key (shown once, also saved to ${file}):\n\n    ${raw}\n\n`,
      );
    }
  }

  private async insert(raw: string, dto: CreateApiKeyDto): Promise<ApiKey> {
    const row = this.repo.create({
      name: dto.name,
      keyHash: hashKey(raw),
      keyPrefix: raw.slice(0, 8),
      keyLast4: raw.slice(-4),
      scopes: dto.scopes?.length ? dto.scopes : ['inference'],
      noLog: dto.noLog ?? false,
      maxSessions: dto.maxSessions ?? null,
      expiresAt: dto.expiresAt ? new Date(dto.expiresAt) : null,
      ...policyFieldsOf(dto),
    });
    return this.repo.save(row);
  }

  async create(dto: CreateApiKeyDto): Promise<CreatedApiKeyResponse> {
    policyFieldsOf(dto); // validates before any write
    const raw = generateKey();
    const row = await this.insert(raw, dto);
    return {
      key: raw,
      id: row.id,
      name: row.name,
      scopes: row.scopes,
      noLog: row.noLog,
      maxSessions: row.maxSessions,
      ...policyView(row),
    };
  }

  async list(limit: number, offset: number): Promise<ApiKeyListResponse> {
    const [rows, total] = await this.repo.findAndCount({
      order: { createdAt: 'DESC' },
      take: limit,
      skip: offset,
    });
    return { keys: rows.map((r) => this.toResponse(r)), total, allowKeyReveal: false };
  }

  async get(id: string): Promise<ApiKeyResponse> {
    return this.toResponse(await this.find(id));
  }

  async update(id: string, dto: UpdateApiKeyDto): Promise<Record<string, unknown>> {
    const row = await this.find(id);
    const changed: Record<string, unknown> = {};
    for (const k of [
      'name',
      'scopes',
      'noLog',
      'isActive',
      'allowedModels',
      'allowedConnections',
      'maxSessions',
    ] as const) {
      if (dto[k] !== undefined) {
        (row as unknown as Record<string, unknown>)[k] = dto[k];
        changed[k] = dto[k];
      }
    }
    if (dto.expiresAt !== undefined) {
      row.expiresAt = dto.expiresAt ? new Date(dto.expiresAt) : null;
      changed.expiresAt = dto.expiresAt;
    }
    const policy = policyFieldsOf(dto);
    Object.assign(row, policy);
    Object.assign(changed, policy);
    if (!Object.keys(changed).length) {
      throw AppError.invalid('No valid fields to update', {}, 'VALIDATION_FAILED');
    }
    await this.repo.save(row);
    await this.invalidate(row.keyHash);
    return { message: 'API key settings updated successfully', ...changed };
  }

  async remove(id: string): Promise<{ message: string }> {
    const row = await this.find(id);
    await this.repo.delete({ id });
    await this.invalidate(row.keyHash);
    return { message: 'Key deleted successfully' };
  }

  private async find(id: string): Promise<ApiKey> {
    const row = UUID_RE.test(id) ? await this.repo.findOne({ where: { id } }) : null;
    if (!row) {
      throw AppError.notFound('Key not found', 'KEY_NOT_FOUND');
    }
    return row;
  }

  private async invalidate(hash: string): Promise<void> {
    this.cache.delete(hash);
    await this.kv.publish(INVALIDATE, hash).catch((e: Error) => {
      this.logger.warn(
        `key invalidation broadcast failed (${e.message}); other replicas catch up within the cache TTL`,
      );
    });
  }

  /** Validates a presented key; cached, and concurrent lookups of one key share one query. */
  async check(raw: string): Promise<KeyCheck> {
    const hash = hashKey(raw);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) {
      if (hit.check.ok && hit.expiresAt && hit.expiresAt <= now) {
        return { ok: false, reason: 'expired' };
      }
      if (hit.check.ok) {
        this.touched.add(hit.check.key.id);
      }
      return hit.check;
    }
    let pending = this.pendingLookups.get(hash);
    if (!pending) {
      pending = this.lookup(hash).finally(() => this.pendingLookups.delete(hash));
      this.pendingLookups.set(hash, pending);
    }
    let check: KeyCheck;
    try {
      check = await pending;
    } catch (e) {
      // Database unreachable: a key we already knew keeps working (stale entry), an unknown one
      // fails closed with 503 rather than a 500.
      if (hit) {
        hit.until = now + Math.min(this.env.API_KEY_CACHE_TTL_MS, 1_000);
        if (hit.check.ok) {
          this.touched.add(hit.check.key.id);
        }
        return hit.check;
      }
      this.logger.warn(`API key lookup failed: ${(e as Error).message}`);
      throw new AppError(
        'KEY_STORE_UNAVAILABLE',
        'UNAVAILABLE',
        'API key store unavailable; retry shortly',
      );
    }
    if (check.ok) {
      this.touched.add(check.key.id);
    }
    return check;
  }

  private async lookup(hash: string): Promise<KeyCheck> {
    const row = await this.repo.findOne({ where: { keyHash: hash } });
    let check: KeyCheck;
    if (!row) {
      check = { ok: false, reason: 'unknown' };
    } else if (row.revokedAt) {
      check = { ok: false, reason: 'revoked' };
    } else if (!row.isActive) {
      check = { ok: false, reason: 'disabled' };
    } else if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
      check = { ok: false, reason: 'expired' };
    } else {
      check = {
        ok: true,
        key: {
          id: row.id,
          name: row.name,
          scopes: row.scopes,
          noLog: row.noLog,
          allowedModels: row.allowedModels,
          allowedConnections: row.allowedConnections,
          maxSessions: row.maxSessions,
          ...policyView(row),
        },
      };
    }
    if (this.cache.size >= CACHE_MAX) {
      this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(hash, {
      check,
      until: Date.now() + this.env.API_KEY_CACHE_TTL_MS,
      expiresAt: row?.expiresAt?.getTime() ?? 0,
    });
    return check;
  }

  private async flushTouched(): Promise<void> {
    if (!this.touched.size) {
      return;
    }
    const ids = [...this.touched];
    this.touched.clear();
    await this.repo
      .query('UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])', [ids])
      .catch(() => undefined);
  }

  toResponse(r: ApiKey): ApiKeyResponse {
    return {
      id: r.id,
      name: r.name,
      key: maskKey(r.keyPrefix, r.keyLast4),
      scopes: r.scopes,
      noLog: r.noLog,
      isActive: r.isActive,
      allowedModels: r.allowedModels,
      allowedConnections: r.allowedConnections,
      maxSessions: r.maxSessions,
      ...policyView(r),
      expiresAt: r.expiresAt?.toISOString() ?? null,
      lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
      createdAt: r.createdAt.toISOString(),
    };
  }
}
