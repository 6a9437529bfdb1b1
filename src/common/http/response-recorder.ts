import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** A response as it went to the client: enough to send it again. */
export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  /** base64 of the body bytes. */
  body: string;
}

/** Headers that describe one connection or one answer instance, never replayed. */
const NOT_REPLAYED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'date',
  'x-request-id',
  'x-omniroute-cache',
  'x-omniroute-idempotent',
  'x-omniroute-session-id',
  'x-omniroute-latency-ms',
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'vary',
]);

function flatHeaders(h: OutgoingHttpHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) {
    return out;
  }
  for (const [k, v] of Object.entries(h)) {
    const name = k.toLowerCase();
    if (v === undefined || NOT_REPLAYED.has(name)) {
      continue;
    }
    out[name] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/**
 * Tees what the gateway writes to one client response (status, headers, body bytes) so that a
 * cache or an idempotency key can send the same answer again. Recording stops (and the result is
 * unusable) beyond `maxBytes`; the client is never affected.
 */
export class ResponseRecorder {
  private status = 0;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private bytes = 0;
  private overflow = false;
  private ended = false;

  constructor(
    res: ServerResponse,
    private readonly maxBytes: number,
  ) {
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    res.writeHead = (status: number, ...rest: unknown[]) => {
      this.status = status;
      const h = rest.find((x) => typeof x === 'object' && x !== null) as
        OutgoingHttpHeaders | undefined;
      this.headers = flatHeaders(h);
      return writeHead(status, ...rest);
    };
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      this.take(chunk);
      return write(chunk, ...rest);
    }) as ServerResponse['write'];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'function') {
        this.take(chunk);
      }
      this.ended = true;
      return end(chunk, ...rest);
    }) as ServerResponse['end'];
  }

  private take(chunk: unknown): void {
    if (this.overflow || chunk === undefined || chunk === null) {
      return;
    }
    const b = Buffer.isBuffer(chunk)
      ? chunk
      : typeof chunk === 'string'
        ? Buffer.from(chunk)
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk)
          : undefined;
    if (!b) {
      return;
    }
    this.bytes += b.length;
    if (this.bytes > this.maxBytes) {
      this.overflow = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(b);
  }

  /** The complete answer, or undefined (not finished, too large, not a success). */
  result(): RecordedResponse | undefined {
    if (!this.ended || this.overflow || this.status < 200 || this.status >= 300) {
      return undefined;
    }
    return {
      status: this.status,
      headers: this.headers,
      body: Buffer.concat(this.chunks).toString('base64'),
    };
  }
}

/** Sends a recorded answer again, with this request's own base headers and `extra` ones. */
export function replay(
  res: ServerResponse,
  rec: RecordedResponse,
  baseHeaders: Record<string, string>,
  extra: Record<string, string>,
): void {
  const body = Buffer.from(rec.body, 'base64');
  res.writeHead(rec.status, {
    ...rec.headers,
    ...baseHeaders,
    ...extra,
    'content-length': String(body.length),
  });
  res.end(body);
}
