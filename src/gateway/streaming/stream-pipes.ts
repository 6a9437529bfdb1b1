import type { AppError } from '@/common/errors/app-error';
import {
  EMPTY_USAGE,
  type CanonicalUsage,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
} from '@/gateway/dialects/canonical';
import { fromOpenAiUsage } from '@/gateway/dialects/openai-chat/common';
import { OpenAiSseTap } from './openai-sse-tap';

export interface StreamOutcome {
  /** The stream ended the way its protocol ends a complete answer. */
  completed: boolean;
  /** Why not, when it did not. */
  errorCode: string | null;
  usage: CanonicalUsage;
}

/**
 * What happens to an upstream stream on its way to the client: pass-through (same dialect: the
 * bytes as they came, read on the side for usage and completion) or translation (decoder →
 * canonical events → encoder). Either way an unfinished stream ends with the client dialect's
 * error event, never a silent close.
 */
export interface StreamPipe {
  /** Bytes for the client for this upstream chunk (null: nothing yet). */
  push(chunk: Buffer): Buffer | null;
  /** The upstream ended (with a transport failure or not): the last bytes and the outcome. */
  finish(failure?: AppError): { tail: Buffer | null; outcome: StreamOutcome };
}

const DONE_EVENT = Buffer.from('data: [DONE]\n\n');

function openAiErrorEvent(message: string, code: string): Buffer {
  return Buffer.from(
    `data: ${JSON.stringify({ error: { message, type: 'server_error', code: code.toLowerCase() } })}\n\n`,
  );
}

/** OpenAI → OpenAI: the SSE bytes untouched (the gateway's own usage chunk is hidden when asked). */
export class OpenAiPassPipe implements StreamPipe {
  private readonly tap: OpenAiSseTap;

  constructor(dropUsageOnlyChunk: boolean) {
    this.tap = new OpenAiSseTap(dropUsageOnlyChunk);
  }

  push(chunk: Buffer): Buffer | null {
    return this.tap.push(chunk);
  }

  finish(failure?: AppError): { tail: Buffer | null; outcome: StreamOutcome } {
    const rest = this.tap.end();
    const s = this.tap.state;
    const usage = s.usage ? fromOpenAiUsage(s.usage) : EMPTY_USAGE;
    const parts: Buffer[] = rest ? [rest] : [];
    if (failure || s.upstreamError || !(s.sawDone || s.sawFinish)) {
      const errorCode =
        failure?.code ?? (s.upstreamError ? 'UPSTREAM_STREAM_ERROR' : 'UPSTREAM_STREAM_INCOMPLETE');
      if (!s.upstreamError) {
        parts.push(
          openAiErrorEvent(
            failure
              ? `Upstream stream failed: ${failure.message}`
              : 'Upstream stream ended before completion',
            errorCode,
          ),
        );
      }
      return { tail: Buffer.concat(parts), outcome: { completed: false, errorCode, usage } };
    }
    if (!s.sawDone) {
      parts.push(DONE_EVENT);
    }
    return {
      tail: parts.length ? Buffer.concat(parts) : null,
      outcome: { completed: true, errorCode: null, usage },
    };
  }
}

/** Reads canonical events on the side: completion, errors and usage. */
class Watcher {
  usage: CanonicalUsage = EMPTY_USAGE;
  stopped = false;
  errored = false;

  see(events: StreamEvent[]): void {
    for (const e of events) {
      if (e.type === 'message_stop') {
        this.stopped = true;
        if (e.usage) {
          this.usage = e.usage;
        }
      } else if (e.type === 'error') {
        this.errored = true;
      }
    }
  }
}

/**
 * Same dialect (other than OpenAI): the upstream bytes untouched, decoded on the side for usage and
 * completion; an unfinished stream gets the dialect's own error ending (from `terminal`).
 */
export class WatchPassPipe implements StreamPipe {
  private readonly watch = new Watcher();

  constructor(
    private readonly decoder: StreamDecoder,
    private readonly terminal: StreamEncoder,
  ) {}

  push(chunk: Buffer): Buffer | null {
    this.watch.see(this.decoder.push(chunk));
    return chunk;
  }

  finish(failure?: AppError): { tail: Buffer | null; outcome: StreamOutcome } {
    const sawUpstreamError = this.watch.errored;
    this.watch.see(this.decoder.end());
    const usage = this.watch.usage;
    if (!failure && this.watch.stopped && !sawUpstreamError) {
      return { tail: null, outcome: { completed: true, errorCode: null, usage } };
    }
    const errorCode =
      failure?.code ?? (sawUpstreamError ? 'UPSTREAM_STREAM_ERROR' : 'UPSTREAM_STREAM_INCOMPLETE');
    const tail = sawUpstreamError
      ? null
      : Buffer.from(
          this.terminal.abort(
            failure
              ? `Upstream stream failed: ${failure.message}`
              : 'Upstream stream ended before completion',
          ),
        );
    return { tail, outcome: { completed: false, errorCode, usage } };
  }
}

/**
 * Different dialects: upstream bytes → canonical events → the client's dialect. Provider-specific
 * reasoning signatures are not passed on (the non-stream mappers drop foreign thinking the same way).
 */
export class TranslatePipe implements StreamPipe {
  private readonly watch = new Watcher();

  constructor(
    private readonly decoder: StreamDecoder,
    private readonly encoder: StreamEncoder,
  ) {}

  private encode(events: StreamEvent[]): string {
    this.watch.see(events);
    let out = '';
    for (const e of events) {
      // A reasoning signature (or opaque reasoning) is only valid with the provider that made it:
      // crossing dialects, the client must not get one it would replay to another provider.
      if (e.type === 'thinking_signature') {
        continue;
      }
      out += this.encoder.encode(
        e.type === 'thinking_start' && e.redacted ? { type: 'thinking_start', index: e.index } : e,
      );
    }
    return out;
  }

  push(chunk: Buffer): Buffer | null {
    const out = this.encode(this.decoder.push(chunk));
    return out ? Buffer.from(out) : null;
  }

  finish(failure?: AppError): { tail: Buffer | null; outcome: StreamOutcome } {
    let out = this.encode(this.decoder.end());
    const completed = !failure && this.watch.stopped && !this.watch.errored;
    let errorCode: string | null = null;
    if (!completed) {
      errorCode =
        failure?.code ??
        (this.watch.errored ? 'UPSTREAM_STREAM_ERROR' : 'UPSTREAM_STREAM_INCOMPLETE');
      if (failure || !this.watch.errored) {
        out += this.encoder.abort(
          failure
            ? `Upstream stream failed: ${failure.message}`
            : 'Upstream stream ended before completion',
        );
      }
    }
    return {
      tail: out ? Buffer.from(out) : null,
      outcome: { completed, errorCode, usage: this.watch.usage },
    };
  }
}
