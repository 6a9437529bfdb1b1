import { Injectable } from '@nestjs/common';
import { AppError } from '@/common/errors/app-error';
import { ANONYMOUS } from '@/common/guards/api-key.auth';
import { CombosService } from '@/combos/combos.service';
import { OPENAI_CHAT, RESPONSES, upstreamCodec } from '@/gateway/dialects/codecs';
import { AccountSelector } from '@/gateway/routing/account-selector';
import { RouterService, type PlannedTarget } from '@/gateway/routing/router.service';
import { upstreamMessage } from '@/providers/providers.service';
import { ResilienceService } from '@/resilience/resilience.service';
import { UpstreamHttp, transportError } from '@/upstream/upstream-http.service';

export interface ComboTargetRef {
  model: string;
  provider: string;
  stepId: string | null;
  executionKey: string | null;
  connectionId: string | null;
  label: string | null;
}

export interface ComboTargetResult extends ComboTargetRef {
  ok: boolean;
  status: number | null;
  latencyMs: number;
  error: string | null;
}

export interface ComboTestResult {
  comboName: string;
  strategy: string;
  /** The first target in the strategy's order that answered, as `alias/model`. */
  resolvedBy: string | null;
  resolvedByExecutionKey: string | null;
  resolvedByTarget: ComboTargetRef | null;
  results: ComboTargetResult[];
  unresolved: { model: string; stepId: string; reason: string }[];
}

const PROBE_TIMEOUT_MS = 30_000;

/**
 * `POST /api/combos/test`: calls every target of a combo once (a tiny non-stream chat request on
 * the account the router would pick, cooldowns and breakers ignored so a cooling target is still
 * tested) and reports which answered and how fast. Calls are not metered in the usage ledger and
 * do not change any account's cooldown or breaker.
 */
@Injectable()
export class ComboTester {
  constructor(
    private readonly combos: CombosService,
    private readonly router: RouterService,
    private readonly selector: AccountSelector,
    private readonly upstream: UpstreamHttp,
    private readonly resilience: ResilienceService,
  ) {}

  async test(comboName: string): Promise<ComboTestResult> {
    const combo = this.combos.byModel(comboName);
    if (!combo) {
      throw AppError.notFound(`No active combo named "${comboName}"`, 'COMBO_NOT_FOUND');
    }
    const plan = this.router.plan(combo.name, ANONYMOUS); // no key: every connection is reachable;
    const results = await Promise.all(plan.targets.map((t) => this.probe(t)));
    const byKey = new Map(plan.targets.map((t, i) => [t, results[i]]));
    const order = await this.router.order(plan);
    const winner = order.map((t) => byKey.get(t)).find((r) => r?.ok);
    return {
      comboName: combo.name,
      strategy: combo.strategy,
      resolvedBy: winner?.model ?? null,
      resolvedByExecutionKey: winner?.executionKey ?? null,
      resolvedByTarget: winner
        ? {
            model: winner.model,
            provider: winner.provider,
            stepId: winner.stepId,
            executionKey: winner.executionKey,
            connectionId: winner.connectionId,
            label: winner.label,
          }
        : null,
      results,
      unresolved: plan.unresolved,
    };
  }

  private async probe(target: PlannedTarget): Promise<ComboTargetResult> {
    const { resolved } = target;
    const pick = await this.selector.pick({
      providerId: resolved.target.id,
      model: resolved.upstreamModel,
      candidates: target.candidates,
      tried: new Set(),
      strategy: 'fill-first',
      stickyLimit: 1,
      forced: target.stepConnection ?? target.candidates?.[0]?.id,
    });
    const ref: ComboTargetRef = {
      model: resolved.qualified,
      provider: resolved.target.alias,
      stepId: target.stepId,
      executionKey: target.executionKey,
      connectionId: pick.ok ? pick.connection.id : null,
      label: null,
    };
    if (!pick.ok) {
      return { ...ref, ok: false, status: null, latencyMs: 0, error: 'no usable connection' };
    }
    const conn = pick.connection;
    const viaResponses =
      conn.dialect === 'openai' && conn.responsesModels.has(resolved.upstreamModel);
    const codec = viaResponses ? RESPONSES : upstreamCodec(conn.dialect);
    const canonical = OPENAI_CHAT.fromRequest({
      model: resolved.upstreamModel,
      messages: [{ role: 'user', content: 'Reply with OK.' }],
      max_tokens: 16,
      stream: false,
    });
    const t0 = performance.now();
    const timeout = Math.min(PROBE_TIMEOUT_MS, this.resilience.current().timeouts.totalMs);
    try {
      const res = await this.upstream.request({
        url: viaResponses
          ? conn.responsesUrl
          : codec.upstreamUrl
            ? codec.upstreamUrl(conn.chatUrl, resolved.upstreamModel, false)
            : conn.chatUrl,
        headers: conn.requestHeaders.json,
        body: JSON.stringify(codec.toRequest(canonical)),
        signal: AbortSignal.timeout(timeout),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const text = await res.body.text();
      const latencyMs = Math.round(performance.now() - t0);
      if (res.statusCode >= 400) {
        return {
          ...ref,
          ok: false,
          status: res.statusCode,
          latencyMs,
          error: upstreamMessage(text),
        };
      }
      codec.fromResponse(JSON.parse(text));
      return { ...ref, ok: true, status: res.statusCode, latencyMs, error: null };
    } catch (e) {
      return {
        ...ref,
        ok: false,
        status: null,
        latencyMs: Math.round(performance.now() - t0),
        error: transportError(e, resolved.target.alias).message,
      };
    }
  }
}
