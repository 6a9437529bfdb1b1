import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource, type Repository } from 'typeorm';
import { SecretsService } from '@/common/crypto/secrets.service';
import { AppError } from '@/common/errors/app-error';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { Env } from '@/config/env.schema';
import { UpstreamHttp, transportError } from '@/upstream/upstream-http.service';
import type {
  CreateProviderDto,
  CreateProviderNodeDto,
  UpdateProviderDto,
  UpdateProviderNodeDto,
  ValidateProviderDto,
} from './dto/provider.dto';
import type {
  ConnectionResponse,
  NodeResponse,
  ProviderModelsResponse,
  ProviderTestResponse,
  ProviderValidateResponse,
} from './dto/provider.response';
import { ProviderConnection } from './entities/provider-connection.entity';
import { ProviderNode } from './entities/provider-node.entity';
import {
  NODE_PATHS,
  PROVIDERS,
  capabilitiesOf,
  findProvider,
  isNodeId,
  nodeCapability,
  type AuthStyle,
  type Capability,
  type Dialect,
  type NodeApiType,
  type ProviderDef,
} from './registry';
import {
  EMPTY_TABLE,
  authHeaders,
  chatRequestHeaders,
  joinUrl,
  type ProviderTarget,
  type RoutableConnection,
  type RoutingTable,
} from './routing-table';
import { checkUpstreamUrl } from './ssrf';

/** A well-formed uuid: anything else is a 404 without a query (Postgres would reject the cast). */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const CHANGED = 'providers:changed';
const REFRESH_MS = 30_000;

/** Where a provider lives: built-in registry entry or a custom node. */
interface Endpoint {
  baseUrl: string;
  chatPath: string;
  modelsPath: string;
  auth: AuthStyle;
  dialect: Dialect;
  apiType: string;
  serves: ReadonlySet<Capability>;
  def?: ProviderDef;
  node?: ProviderNode;
}

/**
 * Provider connections (accounts) and custom nodes. Owns the in-memory routing table the hot path
 * reads (no database query per request): rebuilt on every change here, on a change broadcast by
 * another replica, and every 30 s as a safety net.
 */
@Injectable()
export class ProvidersService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ProvidersService.name);
  private table: RoutingTable = EMPTY_TABLE;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: Unsubscribe;
  private rebuilding?: Promise<void>;
  private rebuildAgain = false;

  constructor(
    @InjectRepository(ProviderConnection) private readonly conns: Repository<ProviderConnection>,
    @InjectRepository(ProviderNode) private readonly nodes: Repository<ProviderNode>,
    private readonly dataSource: DataSource,
    private readonly secrets: SecretsService,
    private readonly upstream: UpstreamHttp,
    private readonly env: Env,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(CHANGED, () => void this.rebuild())
      .catch(() => undefined);
    await this.rebuild();
    this.timer = setInterval(() => void this.rebuild(), REFRESH_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  /** The current routing table (read by the gateway on every request). */
  routing(): RoutingTable {
    return this.table;
  }

  private async changed(): Promise<void> {
    await this.rebuild();
    await this.kv.publish(CHANGED, '1').catch(() => undefined);
  }

  /** Rebuilds the routing table; concurrent calls coalesce into at most one more run. */
  async rebuild(): Promise<void> {
    if (this.rebuilding) {
      this.rebuildAgain = true;
      return this.rebuilding;
    }
    this.rebuilding = (async () => {
      do {
        this.rebuildAgain = false;
        try {
          this.table = await this.buildTable();
        } catch (e) {
          this.logger.warn(`routing table refresh failed: ${(e as Error).message}`);
        }
      } while (this.rebuildAgain);
    })().finally(() => (this.rebuilding = undefined));
    return this.rebuilding;
  }

  private async buildTable(): Promise<RoutingTable> {
    const [rows, nodes] = await Promise.all([
      this.conns.find({ where: { isActive: true }, order: { priority: 'ASC', updatedAt: 'DESC' } }),
      this.nodes.find(),
    ]);
    const targets = new Map<string, ProviderTarget>();
    for (const def of PROVIDERS) {
      const t: ProviderTarget = { id: def.id, alias: def.alias, def };
      targets.set(def.id, t);
      targets.set(def.alias, t);
    }
    const nodeById = new Map(nodes.map((n) => [n.id, n]));
    for (const n of nodes) {
      const t: ProviderTarget = { id: n.id, alias: n.prefix, nodeId: n.id };
      targets.set(n.prefix.toLowerCase(), t); // a node prefix wins over a built-in alias (reference §5.1)
      targets.set(n.id.toLowerCase(), t);
    }
    const connections = new Map<string, RoutableConnection[]>();
    for (const r of rows) {
      const ep = this.endpointOf(r, nodeById.get(r.provider));
      if (!ep) {
        continue;
      }
      let apiKey: string | null = null;
      if (r.secretEnc) {
        try {
          apiKey = this.secrets.decrypt(r.secretEnc);
        } catch {
          this.logger.error(
            `connection ${r.id}: stored secret cannot be decrypted (ENCRYPTION_KEY changed?); skipped`,
          );
          continue;
        }
      }
      const discovered = Array.isArray(r.providerSpecificData.discoveredModels)
        ? (r.providerSpecificData.discoveredModels as unknown[]).filter(
            (m): m is string => typeof m === 'string',
          )
        : [];
      const models = [
        ...new Set([
          ...(ep.def?.models ?? []),
          ...discovered,
          ...(r.defaultModel ? [r.defaultModel] : []),
        ]),
      ];
      const list = connections.get(r.provider) ?? [];
      list.push({
        id: r.id,
        provider: r.provider,
        name: r.name,
        priority: r.priority,
        updatedAt: r.updatedAt.getTime(),
        apiKey,
        chatUrl: joinUrl(ep.baseUrl, ep.chatPath),
        modelsUrl: joinUrl(ep.baseUrl, ep.modelsPath),
        auth: ep.auth,
        dialect: ep.dialect,
        apiType: ep.apiType,
        serves: ep.serves,
        baseUrl: ep.baseUrl.replace(/\/+$/, ''),
        requestHeaders: chatRequestHeaders(ep.auth, apiKey),
        responsesModels: new Set([
          ...(ep.def?.responsesModels ?? []),
          ...(Array.isArray(r.providerSpecificData.responsesModels)
            ? (r.providerSpecificData.responsesModels as unknown[]).filter(
                (m): m is string => typeof m === 'string',
              )
            : []),
        ]),
        responsesUrl: joinUrl(ep.baseUrl, '/responses'),
        models,
        authType: r.authType,
        perModelQuota: Boolean(ep.node) || r.provider === 'gemini',
        rateLimit: { protection: r.rateLimitProtection, rpm: r.rpmLimit, tpm: r.tpmLimit },
      });
      connections.set(r.provider, list);
    }
    return { targets, connections, version: this.table.version + 1 };
  }

  private endpointOf(
    r: Pick<ProviderConnection, 'provider' | 'providerSpecificData'>,
    node?: ProviderNode,
  ): Endpoint | undefined {
    const override =
      typeof r.providerSpecificData?.baseUrl === 'string'
        ? r.providerSpecificData.baseUrl
        : undefined;
    if (node) {
      const anthropic = node.type === 'anthropic-compatible';
      return {
        baseUrl: override ?? node.baseUrl,
        chatPath:
          node.chatPath ??
          (anthropic
            ? '/messages'
            : (NODE_PATHS[node.apiType as NodeApiType] ?? '/chat/completions')),
        modelsPath: node.modelsPath ?? '/models',
        auth: anthropic ? 'x-api-key' : 'bearer',
        // a `responses` node speaks the Responses protocol: a chat upstream in another dialect
        dialect: anthropic ? 'anthropic' : node.apiType === 'responses' ? 'responses' : 'openai',
        apiType: anthropic || node.apiType === 'responses' ? 'chat' : node.apiType,
        serves: new Set(anthropic ? ['chat'] : [nodeCapability(node.apiType) ?? 'chat']),
        node,
      };
    }
    const def = findProvider(r.provider);
    if (!def) {
      return undefined;
    }
    return {
      baseUrl: override ?? def.baseUrl,
      chatPath: def.chatPath,
      modelsPath: def.modelsPath,
      auth: def.auth,
      dialect: def.dialect,
      apiType: 'chat',
      serves: new Set(capabilitiesOf(def)),
      def,
    };
  }

  // ---- connections ----------------------------------------------------------------------------

  private async assertSafeBaseUrl(url: unknown): Promise<void> {
    if (url === undefined) {
      return;
    }
    if (typeof url !== 'string') {
      throw AppError.invalid(
        'providerSpecificData.baseUrl must be a string',
        { fields: [{ field: 'providerSpecificData.baseUrl', message: 'must be a string' }] },
        'VALIDATION_FAILED',
      );
    }
    const check = await checkUpstreamUrl(url, this.env.ALLOW_PRIVATE_UPSTREAMS);
    if (!check.ok) {
      throw AppError.invalid(check.reason, { field: 'baseUrl' }, 'SSRF_BLOCKED');
    }
  }

  /** Canonical provider id for a create call: built-in id (from id or alias) or an existing node id. */
  private async resolveProviderId(
    provider: string,
  ): Promise<{ id: string; def?: ProviderDef; node?: ProviderNode }> {
    const def = findProvider(provider);
    if (def) {
      return { id: def.id, def };
    }
    if (isNodeId(provider)) {
      const node = await this.nodes.findOne({ where: { id: provider } });
      if (!node) {
        throw AppError.notFound(`Compatible node not found: ${provider}`, 'PROVIDER_NOT_FOUND');
      }
      return { id: node.id, node };
    }
    throw AppError.invalid(
      `Unknown provider: ${provider}`,
      { field: 'provider', known: PROVIDERS.map((p) => p.id) },
      'PROVIDER_NOT_FOUND',
    );
  }

  async createConnection(dto: CreateProviderDto): Promise<ConnectionResponse> {
    const { id: provider, def } = await this.resolveProviderId(dto.provider);
    await this.assertSafeBaseUrl(dto.providerSpecificData?.baseUrl);
    if (def?.requiresKey && !dto.apiKey) {
      throw AppError.invalid(
        `apiKey is required for provider ${def.id}`,
        { fields: [{ field: 'apiKey', message: 'required' }] },
        'VALIDATION_FAILED',
      );
    }
    const saved = await this.dataSource.transaction(async (tx) => {
      const repo = tx.getRepository(ProviderConnection);
      const existing = await repo.findOne({
        where: { provider, name: dto.name },
        lock: { mode: 'pessimistic_write' },
      });
      const row =
        existing ??
        repo.create({ provider, name: dto.name, authType: 'apikey', providerSpecificData: {} });
      if (dto.apiKey !== undefined) {
        row.secretEnc = dto.apiKey ? this.secrets.encrypt(dto.apiKey) : null;
      }
      row.priority = dto.priority ?? row.priority ?? 1;
      if (dto.globalPriority !== undefined) {
        row.globalPriority = dto.globalPriority;
      }
      if (dto.defaultModel !== undefined) {
        row.defaultModel = dto.defaultModel;
      }
      if (dto.isActive !== undefined) {
        row.isActive = dto.isActive;
      }
      if (dto.providerSpecificData) {
        row.providerSpecificData = {
          ...(row.providerSpecificData ?? {}),
          ...dto.providerSpecificData,
        };
      }
      return repo.save(row);
    });
    await this.changed();
    void this.discoverModels(saved.id); // background: /v1/models lists the account's models soon after
    return this.toConnection(saved);
  }

  /** Best-effort live model discovery for a new connection (never fails the caller). */
  private async discoverModels(id: string): Promise<void> {
    try {
      await this.connectionModels(id, true);
    } catch (e) {
      this.logger.debug(`model discovery for ${id} failed: ${(e as Error).message}`);
    }
  }

  async listConnections(): Promise<ConnectionResponse[]> {
    const rows = await this.conns.find({ order: { priority: 'ASC', updatedAt: 'DESC' } });
    return rows.map((r) => this.toConnection(r));
  }

  private async findConnection(id: string): Promise<ProviderConnection> {
    const row = UUID_RE.test(id) ? await this.conns.findOne({ where: { id } }) : null;
    if (!row) {
      throw AppError.notFound('Connection not found', 'CONNECTION_NOT_FOUND');
    }
    return row;
  }

  async getConnection(id: string): Promise<ConnectionResponse> {
    return this.toConnection(await this.findConnection(id));
  }

  async updateConnection(id: string, dto: UpdateProviderDto): Promise<ConnectionResponse> {
    const row = await this.findConnection(id);
    let touched = false;
    if (dto.name !== undefined) {
      row.name = dto.name;
      touched = true;
    }
    if (dto.apiKey !== undefined) {
      row.secretEnc = dto.apiKey ? this.secrets.encrypt(dto.apiKey) : null;
      touched = true;
    }
    for (const k of ['priority', 'globalPriority', 'defaultModel', 'isActive'] as const) {
      if (dto[k] !== undefined) {
        (row as unknown as Record<string, unknown>)[k] = dto[k];
        touched = true;
      }
    }
    if (dto.providerSpecificData) {
      await this.assertSafeBaseUrl(dto.providerSpecificData.baseUrl);
      row.providerSpecificData = { ...row.providerSpecificData, ...dto.providerSpecificData };
      touched = true;
    }
    if (!touched) {
      throw AppError.invalid('No valid fields to update', {}, 'VALIDATION_FAILED');
    }
    const saved = await this.conns.save(row).catch((e: { code?: string }) => {
      if (e.code === '23505') {
        throw AppError.conflict('A connection with this provider and name already exists');
      }
      throw e;
    });
    await this.changed();
    return this.toConnection(saved);
  }

  async deleteConnection(id: string): Promise<{ message: string }> {
    await this.findConnection(id);
    await this.conns.delete({ id });
    await this.changed();
    return { message: 'Connection deleted successfully' };
  }

  private async probe(
    baseOf: { modelsUrl: string; chatUrl: string; auth: AuthStyle; apiKey: string | null },
    model?: string,
  ): Promise<{
    valid: boolean;
    error: string | null;
    statusCode: number | null;
    latencyMs: number;
    models?: string[];
  }> {
    const started = Date.now();
    const signal = AbortSignal.timeout(Math.min(this.env.UPSTREAM_TIMEOUT_MS, 15_000));
    try {
      const res =
        // a chat probe body is OpenAI's; Anthropic endpoints and speech-to-text services list models
        model && baseOf.auth !== 'x-api-key' && baseOf.auth !== 'token' && baseOf.auth !== 'raw'
          ? await this.upstream.request({
              url: baseOf.chatUrl,
              headers: {
                'content-type': 'application/json',
                ...authHeaders(baseOf.auth, baseOf.apiKey),
              },
              body: JSON.stringify({
                model,
                messages: [{ role: 'user', content: 'ping' }],
                max_tokens: 1,
                stream: false,
              }),
              signal,
            })
          : await this.upstream.request({
              url: baseOf.modelsUrl,
              method: 'GET',
              headers: { accept: 'application/json', ...authHeaders(baseOf.auth, baseOf.apiKey) },
              signal,
            });
      const text = await res.body.text();
      const latencyMs = Date.now() - started;
      if (res.statusCode >= 200 && res.statusCode < 300) {
        let models: string[] | undefined;
        if (!model || baseOf.auth === 'x-api-key') {
          try {
            // OpenAI / Anthropic: {data:[{id}]}; Ollama /api/tags: {models:[{name}]}
            const j = JSON.parse(text) as {
              data?: { id?: unknown }[];
              models?: { name?: unknown }[];
            };
            const list = Array.isArray(j.data)
              ? j.data.map((m) => m.id)
              : Array.isArray(j.models)
                ? j.models.map((m) =>
                    typeof m.name === 'string' ? m.name.replace(/^models\//, '') : m.name,
                  )
                : undefined;
            models = list?.filter((m): m is string => typeof m === 'string');
          } catch {
            models = undefined;
          }
        }
        return { valid: true, error: null, statusCode: res.statusCode, latencyMs, models };
      }
      return {
        valid: false,
        error: `[${res.statusCode}]: ${upstreamMessage(text)}`,
        statusCode: res.statusCode,
        latencyMs,
      };
    } catch (e) {
      return {
        valid: false,
        error: transportError(e, 'upstream').message,
        statusCode: null,
        latencyMs: Date.now() - started,
      };
    }
  }

  private routableOf(
    row: ProviderConnection,
  ): { modelsUrl: string; chatUrl: string; auth: AuthStyle; apiKey: string | null } | undefined {
    return this.table.connections.get(row.provider)?.find((c) => c.id === row.id);
  }

  private async transientRoutable(row: ProviderConnection): Promise<{
    modelsUrl: string;
    chatUrl: string;
    auth: AuthStyle;
    apiKey: string | null;
  }> {
    const cached = this.routableOf(row);
    if (cached) {
      return cached;
    }
    const node = isNodeId(row.provider)
      ? ((await this.nodes.findOne({ where: { id: row.provider } })) ?? undefined)
      : undefined;
    const ep = this.endpointOf(row, node);
    if (!ep) {
      throw AppError.invalid(`Provider ${row.provider} is not known`, {}, 'PROVIDER_NOT_FOUND');
    }
    return {
      modelsUrl: joinUrl(ep.baseUrl, ep.modelsPath),
      chatUrl: joinUrl(ep.baseUrl, ep.chatPath),
      auth: ep.auth,
      apiKey: row.secretEnc ? this.secrets.decrypt(row.secretEnc) : null,
    };
  }

  /**
   * Stores discovered models with a JSONB merge in one statement, so an edit of the connection made
   * while the upstream was being asked is not overwritten.
   */
  private async mergeDiscovered(id: string, models: string[]): Promise<void> {
    await this.conns.query(
      `UPDATE provider_connections
          SET provider_specific_data = provider_specific_data || jsonb_build_object('discoveredModels', $2::jsonb)
        WHERE id = $1`,
      [id, JSON.stringify(models.slice(0, 2000))],
    );
  }

  /**
   * Per-connection request/token limits (`/api/rate-limits`). `enabled` null = follow the global
   * auto-enable setting; `rpm`/`tpm` null = the global defaults. Leaves `updated_at` alone (an edit
   * of the credentials is what clears a permanent lock, not a limit change).
   */
  async setRateLimit(
    id: string,
    patch: { enabled?: boolean | null; rpm?: number | null; tpm?: number | null },
  ): Promise<ProviderConnection> {
    const row = await this.findConnection(id);
    const next = {
      enabled: patch.enabled === undefined ? row.rateLimitProtection : patch.enabled,
      rpm: patch.rpm === undefined ? row.rpmLimit : patch.rpm,
      tpm: patch.tpm === undefined ? row.tpmLimit : patch.tpm,
    };
    await this.conns.query(
      `UPDATE provider_connections SET rate_limit_protection = $2, rpm_limit = $3, tpm_limit = $4
        WHERE id = $1`,
      [id, next.enabled, next.rpm, next.tpm],
    );
    await this.changed();
    return { ...row, rateLimitProtection: next.enabled, rpmLimit: next.rpm, tpmLimit: next.tpm };
  }

  /** Every connection row (active or not), fill-first order. */
  async connectionRows(): Promise<ProviderConnection[]> {
    return this.conns.find({ order: { priority: 'ASC', updatedAt: 'DESC' } });
  }

  async testConnection(id: string, validationModelId?: string): Promise<ProviderTestResponse> {
    const row = await this.findConnection(id);
    const result = await this.probe(await this.transientRoutable(row), validationModelId);
    const now = new Date();
    const patch: Partial<ProviderConnection> = {
      testStatus: result.valid ? 'active' : 'error',
      lastTested: now,
      lastError: result.error,
      lastErrorAt: result.valid ? row.lastErrorAt : now,
      errorCode: result.valid ? null : result.statusCode ? String(result.statusCode) : 'network',
    };
    await this.conns.update({ id }, patch as never);
    if (result.models) {
      await this.mergeDiscovered(id, result.models);
    }
    await this.changed();
    return {
      valid: result.valid,
      error: result.error,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      testedAt: now.toISOString(),
    };
  }

  async connectionModels(id: string, refresh: boolean): Promise<ProviderModelsResponse> {
    const row = await this.findConnection(id);
    const cached = row.providerSpecificData.discoveredModels;
    if (!refresh && Array.isArray(cached) && cached.length) {
      return { models: (cached as string[]).map((m) => ({ id: m, name: m })), source: 'cache' };
    }
    const result = await this.probe(await this.transientRoutable(row));
    if (result.valid && result.models) {
      await this.mergeDiscovered(id, result.models);
      await this.changed();
      return { models: result.models.map((m) => ({ id: m, name: m })), source: 'live' };
    }
    const def = findProvider(row.provider);
    return { models: (def?.models ?? []).map((m) => ({ id: m, name: m })), source: 'registry' };
  }

  async validate(dto: ValidateProviderDto): Promise<ProviderValidateResponse> {
    const { def, node } = await this.resolveProviderId(dto.provider);
    await this.assertSafeBaseUrl(dto.baseUrl);
    const ep = this.endpointOf(
      {
        provider: def?.id ?? node!.id,
        providerSpecificData: dto.baseUrl ? { baseUrl: dto.baseUrl } : {},
      },
      node,
    );
    if (!ep) {
      throw AppError.invalid(
        `Provider ${dto.provider} cannot be validated`,
        {},
        'PROVIDER_NOT_FOUND',
      );
    }
    const r = await this.probe({
      modelsUrl: joinUrl(ep.baseUrl, ep.modelsPath),
      chatUrl: joinUrl(ep.baseUrl, ep.chatPath),
      auth: ep.auth,
      apiKey: dto.apiKey ?? null,
    });
    return { valid: r.valid, error: r.error, method: 'models' };
  }

  toConnection(r: ProviderConnection): ConnectionResponse {
    return {
      id: r.id,
      provider: r.provider,
      authType: r.authType,
      name: r.name,
      priority: r.priority,
      globalPriority: r.globalPriority,
      isActive: r.isActive,
      defaultModel: r.defaultModel,
      hasApiKey: Boolean(r.secretEnc),
      testStatus: r.testStatus,
      lastError: r.lastError,
      lastErrorAt: r.lastErrorAt?.toISOString() ?? null,
      errorCode: r.errorCode,
      lastTested: r.lastTested?.toISOString() ?? null,
      providerSpecificData: r.providerSpecificData,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }

  // ---- nodes ------------------------------------------------------------------------------------

  async createNode(dto: CreateProviderNodeDto): Promise<NodeResponse> {
    const type = dto.type ?? 'openai-compatible';
    const anthropic = type === 'anthropic-compatible';
    let baseUrl = (
      dto.baseUrl ?? (anthropic ? 'https://api.anthropic.com/v1' : 'https://api.openai.com/v1')
    ).replace(/\/+$/, '');
    if (anthropic) {
      baseUrl = baseUrl.replace(/\/messages$/, ''); // reference §3.3: a pasted .../v1/messages is the base
    }
    await this.assertSafeBaseUrl(baseUrl);
    await this.assertPrefixFree(dto.prefix);
    const apiType = anthropic ? 'chat' : (dto.apiType ?? 'chat');
    const rand = randomBytes(6).toString('hex');
    const row = this.nodes.create({
      id: anthropic ? `anthropic-compatible-${rand}` : `openai-compatible-${apiType}-${rand}`,
      type,
      name: dto.name,
      prefix: dto.prefix,
      apiType,
      baseUrl,
      chatPath: dto.chatPath ?? null,
      modelsPath: dto.modelsPath ?? null,
    });
    const saved = await this.nodes.save(row).catch((e: { code?: string }) => {
      if (e.code === '23505') {
        throw AppError.conflict(`Prefix "${dto.prefix}" is already used by another node`);
      }
      throw e;
    });
    await this.changed();
    return this.toNode(saved);
  }

  private async assertPrefixFree(prefix: string, exceptId?: string): Promise<void> {
    const existing = await this.nodes
      .createQueryBuilder('n')
      .where('lower(n.prefix) = lower(:prefix)', { prefix })
      .getOne();
    if (existing && existing.id !== exceptId) {
      throw AppError.conflict(`Prefix "${prefix}" is already used by node ${existing.id}`);
    }
  }

  async listNodes(): Promise<NodeResponse[]> {
    return (await this.nodes.find({ order: { createdAt: 'ASC' } })).map((n) => this.toNode(n));
  }

  private async findNode(id: string): Promise<ProviderNode> {
    const row = await this.nodes.findOne({ where: { id } });
    if (!row) {
      throw AppError.notFound('Provider node not found', 'NODE_NOT_FOUND');
    }
    return row;
  }

  async getNode(id: string): Promise<NodeResponse> {
    return this.toNode(await this.findNode(id));
  }

  async updateNode(id: string, dto: UpdateProviderNodeDto): Promise<NodeResponse> {
    const row = await this.findNode(id);
    if (!Object.values(dto).some((v) => v !== undefined)) {
      throw AppError.invalid('No valid fields to update', {}, 'VALIDATION_FAILED');
    }
    if (dto.baseUrl !== undefined) {
      await this.assertSafeBaseUrl(dto.baseUrl);
      row.baseUrl = dto.baseUrl.replace(/\/+$/, '');
    }
    if (dto.prefix !== undefined) {
      await this.assertPrefixFree(dto.prefix, id);
      row.prefix = dto.prefix;
    }
    for (const k of ['name', 'apiType', 'chatPath', 'modelsPath'] as const) {
      if (dto[k] !== undefined) {
        (row as unknown as Record<string, unknown>)[k] = dto[k];
      }
    }
    const saved = await this.nodes.save(row);
    await this.changed();
    return this.toNode(saved);
  }

  async deleteNode(id: string): Promise<{ message: string }> {
    await this.findNode(id);
    await this.dataSource.transaction(async (tx) => {
      await tx.getRepository(ProviderConnection).delete({ provider: id });
      await tx.getRepository(ProviderNode).delete({ id });
    });
    await this.changed();
    return { message: 'Provider node deleted successfully' };
  }

  toNode(n: ProviderNode): NodeResponse {
    return {
      id: n.id,
      type: n.type,
      name: n.name,
      prefix: n.prefix,
      apiType: n.apiType,
      baseUrl: n.baseUrl,
      chatPath: n.chatPath,
      modelsPath: n.modelsPath,
      createdAt: n.createdAt.toISOString(),
      updatedAt: n.updatedAt.toISOString(),
    };
  }
}

/** The human message inside an upstream error body (OpenAI `{error:{message}}` and friends). */
export function upstreamMessage(text: string): string {
  try {
    const j = JSON.parse(text) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      err_msg?: unknown;
    };
    if (typeof j.error === 'string') {
      return j.error; // xAI, AssemblyAI
    }
    if (j.error && typeof j.error.message === 'string') {
      return j.error.message;
    }
    if (typeof j.message === 'string') {
      return j.message; // Mistral
    }
    if (typeof j.err_msg === 'string') {
      return j.err_msg; // Deepgram
    }
  } catch {
    /* not JSON */
  }
  return text.slice(0, 500) || 'empty response';
}
