import { Injectable } from '@nestjs/common';
import { AppError } from '@/common/errors/app-error';
import { sendJson, type HotRequest } from '@/gateway/http/hot-request';
import { CombosService } from '@/combos/combos.service';
import { resolveModel } from '@/gateway/routing/model-resolver';
import { ProvidersService } from '@/providers/providers.service';
import { UpstreamHttp } from '@/upstream/upstream-http.service';

type Obj = Record<string, unknown>;

/** Characters of the text a request carries (string contents, text blocks, the system prompt). */
function textChars(body: Obj): number {
  let chars = 0;
  const add = (v: unknown): void => {
    if (typeof v === 'string') {
      chars += v.length;
    } else if (Array.isArray(v)) {
      for (const b of v) {
        if (b && typeof b === 'object' && typeof (b as Obj).text === 'string') {
          chars += ((b as Obj).text as string).length;
        }
      }
    }
  };
  add(body.system);
  for (const m of body.messages as Obj[]) {
    if (m && typeof m === 'object') {
      add(m.content);
    }
  }
  return chars;
}

/**
 * `POST /v1/messages/count_tokens` (reference §2.3): asked of the upstream when the model is
 * served by an Anthropic-protocol account (`source: "provider"`), else — or when that fails —
 * estimated as ⌈characters / 4⌉ of the text (`source: "estimated"`). Always 200 on success paths.
 */
@Injectable()
export class CountTokensService {
  constructor(
    private readonly providers: ProvidersService,
    private readonly upstream: UpstreamHttp,
    private readonly combos: CombosService,
  ) {}

  async handle(h: HotRequest): Promise<void> {
    const body = h.body as Obj | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw AppError.invalid('Request body must be a JSON object', {}, 'INVALID_JSON');
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      throw AppError.invalid('messages must be a non-empty array', { param: 'messages' });
    }
    const estimate = { input_tokens: Math.ceil(textChars(body) / 4), source: 'estimated' };
    if (typeof body.model !== 'string' || !body.model) {
      sendJson(h, 200, estimate);
      return;
    }
    try {
      const table = this.providers.routing();
      // a combo is counted by its first target (the one a priority combo serves from)
      const combo = this.combos.byModel(body.model);
      const first = combo ? this.combos.targets(combo)[0]?.model : undefined;
      const resolved = resolveModel(first ?? body.model, table);
      const conn = table.connections.get(resolved.target.id)?.[0];
      if (conn && conn.dialect === 'anthropic') {
        const res = await this.upstream.request({
          url: `${conn.chatUrl}/count_tokens`,
          headers: conn.requestHeaders.json,
          body: JSON.stringify({ ...body, model: resolved.upstreamModel }),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.body.text();
        if (res.statusCode === 200) {
          const n = (JSON.parse(text) as { input_tokens?: unknown }).input_tokens;
          if (typeof n === 'number') {
            sendJson(h, 200, {
              input_tokens: n,
              model: body.model,
              provider: resolved.target.alias,
              source: 'provider',
            });
            return;
          }
        }
      }
    } catch {
      /* unknown model, upstream failure, bad answer: the estimate stands */
    }
    sendJson(h, 200, estimate);
  }
}
