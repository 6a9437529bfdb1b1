import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface StreamUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export interface TapState {
  usage?: StreamUsage;
  sawDone: boolean;
  sawFinish: boolean;
  /** The upstream sent an `{"error":…}` event. */
  upstreamError?: string;
  events: number;
}

const SEP = /\r?\n\r?\n/;
const FINISH_RE = /"finish_reason"\s*:\s*"/;

/**
 * Taps an OpenAI SSE stream on its way to the client: forwards each complete event's bytes as they
 * are, and reads usage (`usage` or Groq's `x_groq.usage`), `[DONE]`, a finish reason and error
 * events. Only events that mention usage or error are parsed. When the gateway itself asked the
 * upstream for a usage chunk, that usage-only chunk (`choices: []`) is not forwarded.
 */
export function createOpenAiSseTap(state: TapState, dropUsageOnlyChunk: boolean): Transform {
  let pending = '';
  const decoder = new StringDecoder('utf8'); // a multi-byte character may straddle two chunks
  const handle = (event: string, push: (s: string) => void): void => {
    if (!event.trim()) {
      return;
    }
    state.events++;
    let forward = true;
    if (event.includes('[DONE]') && /^data:\s*\[DONE\]\s*$/m.test(event)) {
      state.sawDone = true;
    } else {
      if (!state.sawFinish && FINISH_RE.test(event)) {
        state.sawFinish = true;
      }
      if (event.includes('"usage"') || event.includes('"error"')) {
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        try {
          const j = JSON.parse(data) as {
            usage?: StreamUsage | null;
            x_groq?: { usage?: StreamUsage };
            choices?: unknown[];
            error?: { message?: string } | string;
          };
          const u = j.usage ?? j.x_groq?.usage;
          if (u && typeof u === 'object') {
            state.usage = u;
            if (dropUsageOnlyChunk && Array.isArray(j.choices) && j.choices.length === 0) {
              forward = false;
            }
          }
          if (j.error) {
            state.upstreamError =
              typeof j.error === 'string' ? j.error : (j.error.message ?? 'upstream error');
          }
        } catch {
          /* not JSON: forwarded untouched */
        }
      }
    }
    if (forward) {
      push(`${event}\n\n`);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      pending += decoder.write(chunk);
      const parts = pending.split(SEP);
      pending = parts.pop() ?? '';
      let out = '';
      for (const p of parts) {
        handle(p, (s) => (out += s));
      }
      cb(null, out ? Buffer.from(out, 'utf8') : undefined);
    },
    flush(cb: TransformCallback): void {
      let out = '';
      pending += decoder.end();
      if (pending.trim()) {
        handle(pending, (s) => (out += s));
      }
      pending = '';
      cb(null, out ? Buffer.from(out, 'utf8') : undefined);
    },
  });
}
