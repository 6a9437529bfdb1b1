import { Transform, type TransformCallback } from 'node:stream';

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
}

const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const DONE = Buffer.from('data: [DONE]');
/** `[DONE]` only counts at the start of a line: content may quote it inside a JSON string. */
const LINE_DONE = Buffer.from('\ndata: [DONE]');
const DONE_TIGHT = Buffer.from('data:[DONE]');
const LINE_DONE_TIGHT = Buffer.from('\ndata:[DONE]');
const FINISH = Buffer.from('"finish_reason":"');
const FINISH_SPACED = Buffer.from('"finish_reason": "');
const USAGE = Buffer.from('"usage"');
const ERROR = Buffer.from('"error"');

/** Index just past the last blank line (event boundary) in `buf`, or -1. */
function lastBoundary(buf: Buffer): number {
  const a = buf.lastIndexOf(LF2);
  const b = buf.lastIndexOf(CRLF2);
  return Math.max(a >= 0 ? a + 2 : -1, b >= 0 ? b + 4 : -1);
}

/**
 * Taps an OpenAI SSE stream on its way to the client. Bytes are forwarded as they came, whole
 * events at a time (a partial event waits for its end, so no event is ever cut). Markers are found
 * with native byte searches; only a region that mentions `"usage"` or `"error"` is split into
 * events and parsed: usage (`usage` or Groq's `x_groq.usage`), error events, and — when the gateway
 * itself asked the upstream for usage — the usage-only chunk (`choices: []`), which is not forwarded.
 */
export class OpenAiSseTap {
  readonly state: TapState = { sawDone: false, sawFinish: false };
  private carry: Buffer | null = null;

  constructor(private readonly dropUsageOnlyChunk: boolean) {}

  /** Bytes to forward now for this upstream chunk (null: nothing yet). */
  push(chunk: Buffer): Buffer | null {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = lastBoundary(buf);
    if (end < 0) {
      this.carry = buf;
      return null;
    }
    this.carry = end < buf.length ? buf.subarray(end) : null;
    return this.region(end === buf.length ? buf : buf.subarray(0, end));
  }

  /** The upstream ended: whatever partial event is left, completed with a blank line. */
  end(): Buffer | null {
    const rest = this.carry;
    this.carry = null;
    if (!rest || !rest.toString('utf8').trim()) {
      return null;
    }
    return this.region(Buffer.concat([rest, LF2]));
  }

  private region(r: Buffer): Buffer | null {
    const s = this.state;
    if (
      !s.sawDone &&
      (r.indexOf(DONE) === 0 ||
        r.includes(LINE_DONE) ||
        r.indexOf(DONE_TIGHT) === 0 ||
        r.includes(LINE_DONE_TIGHT))
    ) {
      s.sawDone = true;
    }
    if (!s.sawFinish && (r.includes(FINISH) || r.includes(FINISH_SPACED))) {
      s.sawFinish = true;
    }
    if (!r.includes(USAGE) && !r.includes(ERROR)) {
      return r;
    }
    // Walk the events as byte ranges: only the ones that mention usage/error become strings, and
    // the forwarded bytes stay exactly as the upstream sent them.
    const kept: Buffer[] = [];
    let dropped = false;
    let start = 0;
    while (start < r.length) {
      let end = r.indexOf(LF2, start);
      let sep = 2;
      const crlf = r.indexOf(CRLF2, start);
      if (crlf >= 0 && (end < 0 || crlf < end)) {
        end = crlf;
        sep = 4;
      }
      const stop = end < 0 ? r.length : end + sep;
      const ev = r.subarray(start, stop);
      start = stop;
      if ((ev.includes(USAGE) || ev.includes(ERROR)) && !this.inspect(ev.toString('utf8'))) {
        dropped = true;
      } else {
        kept.push(ev);
      }
    }
    if (!dropped) {
      return r;
    }
    return kept.length ? Buffer.concat(kept) : null;
  }

  /** Reads usage/error from one event; false when the event must not be forwarded. */
  private inspect(event: string): boolean {
    if (!event.includes('"usage"') && !event.includes('"error"')) {
      return true;
    }
    // The usual event is a single `data:` line: slice it out; several lines are joined per spec.
    const first = event.indexOf('data:');
    let data: string;
    if (first >= 0 && event.indexOf('\ndata:', first + 5) < 0) {
      const eol = event.indexOf('\n', first);
      data = (eol < 0 ? event.slice(first + 5) : event.slice(first + 5, eol)).trim();
    } else {
      data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
    }
    try {
      const j = JSON.parse(data) as {
        usage?: StreamUsage | null;
        x_groq?: { usage?: StreamUsage };
        choices?: unknown[];
        error?: { message?: string } | string;
      };
      const u = j.usage ?? j.x_groq?.usage;
      let keep = true;
      if (u && typeof u === 'object') {
        this.state.usage = u;
        if (this.dropUsageOnlyChunk && Array.isArray(j.choices) && j.choices.length === 0) {
          keep = false;
        }
      }
      if (j.error) {
        this.state.upstreamError =
          typeof j.error === 'string' ? j.error : (j.error.message ?? 'upstream error');
      }
      return keep;
    } catch {
      return true; // not JSON: forwarded untouched
    }
  }
}

/** The same tap as a Transform stream (for pipelines and tests). */
export function createOpenAiSseTap(state: TapState, dropUsageOnlyChunk: boolean): Transform {
  const tap = new OpenAiSseTap(dropUsageOnlyChunk);
  const sync = (): void => {
    Object.assign(state, tap.state);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      const out = tap.push(chunk);
      sync();
      cb(null, out ?? undefined);
    },
    flush(cb: TransformCallback): void {
      const out = tap.end();
      sync();
      cb(null, out ?? undefined);
    },
  });
}

/**
 * `usage` of a non-stream OpenAI body without parsing the whole body: the last `"usage"` key's
 * object is cut out (a brace scan that skips strings) and parsed.
 */
export function extractUsage(body: Buffer): StreamUsage | undefined {
  const at = body.lastIndexOf(USAGE);
  if (at < 0) {
    return undefined;
  }
  const open = body.indexOf(0x7b /* { */, at + USAGE.length);
  if (open < 0) {
    return undefined;
  }
  for (let i = at + USAGE.length; i < open; i++) {
    const c = body[i];
    if (c !== 0x3a /* : */ && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      return undefined; // `"usage": null` or a string that merely contains the word
    }
  }
  let depth = 0;
  for (let i = open; i < body.length; i++) {
    const c = body[i];
    if (c === 0x7b) {
      depth++;
    } else if (c === 0x7d) {
      depth--;
      if (depth === 0) {
        try {
          return JSON.parse(body.toString('utf8', open, i + 1)) as StreamUsage;
        } catch {
          return undefined;
        }
      }
    } else if (c === 0x22 /* " */) {
      // skip the string (keys, values), honouring escapes
      for (i++; i < body.length && body[i] !== 0x22; i++) {
        if (body[i] === 0x5c /* \\ */) {
          i++;
        }
      }
    }
  }
  return undefined;
}
