/**
 * Types for mock-upstream.js (plain CommonJS so the benchmark can run it with `node` directly).
 * Import in TS tests: `import { startMockUpstream } from '../support/mock-upstream';`
 */
import type { IncomingHttpHeaders, Server } from 'node:http';

/**
 * Injected failures of `POST /v1/chat/completions`, picked by the request's model name (also as
 * `<prefix>/<fault>`) or server-wide with `setFault()`; the model name wins.
 *
 * - `fail-500` / `fail-400`: OpenAI error JSON with that status.
 * - `fail-429`: 429, `Retry-After: <retryAfterSec>` (default 2; none when the option is null), error
 *   type `rate_limit_error`, message "... Please try again in 2s. (mock fail-429)".
 * - `fail-<status>` for any other 4xx/5xx status (`fail-401`, `fail-404`, `fail-502`, `fail-503`,
 *   `fail-529`, ...): OpenAI error JSON with that status whose message names the status and ends
 *   with `(mock fail-<status>)`; type/code follow the status (401 `invalid_api_key`, 404
 *   `model_not_found`, 503 `service_unavailable`, 529 `overloaded_error`/`overloaded`, ...).
 *   `fail-503` also sends `Retry-After: <retryAfterSec>` unless that option is null.
 * - `fail-quota`: 429 with OpenAI's `insufficient_quota` body ("You exceeded your current quota,
 *   please check your plan and billing details."), no `Retry-After`.
 * - `fail-banned`: 403 "Your account has been deactivated, ..." (code `account_deactivated`).
 * - `flaky-<n>` (n >= 1): the first n requests with that exact model name answer 500, later ones
 *   succeed normally. Counted per mock instance (server-wide via `setFault`: per fault), cleared by
 *   `reset()`.
 * - `reset`: the socket is destroyed without an answer.
 * - `hang`: no answer until the client goes away (counted in `aborted`) or `close()`.
 * - `slow-first-token`: stream headers at once, first chunk after `slowMs`; non-stream: whole
 *   response after `slowMs`.
 * - `midstream-error`: stream sends the role chunk + 2 content chunks, then the socket is destroyed
 *   (no `[DONE]`); non-stream: 200 with a Content-Length, half the body, then the socket is destroyed.
 * - `midstream-error-event`: stream sends role + 2 content chunks, then `data: {"error":{...}}` and
 *   ends (no `[DONE]`); non-stream: 200 whose body is `{"error":{...}}`.
 */
export type MockFault =
  | 'fail-500'
  | 'fail-429'
  | 'fail-400'
  | 'fail-quota'
  | 'fail-banned'
  | `fail-${number}`
  | `flaky-${number}`
  | 'reset'
  | 'hang'
  | 'slow-first-token'
  | 'midstream-error'
  | 'midstream-error-event';

export interface MockUpstreamOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (random free port). */
  port?: number;
  /** When set, `Authorization: Bearer <apiKey>` must match exactly, else 401 `invalid_api_key`. */
  apiKey?: string | null;
  /** Assistant reply. Default `'Hello from mock upstream'`. */
  reply?: string;
  /** Number of content chunks the reply is split into. Default: one per word. */
  chunks?: number | null;
  /** Delay before every response (ms). Default 0. */
  latencyMs?: number;
  /** First-token delay of the `slow-first-token` fault (ms). Default 2000. */
  slowMs?: number;
  /** Delay between stream events (ms). Default 0: the whole stream is written at once. */
  chunkDelayMs?: number;
  /** Ids listed by `GET /v1/models`. */
  models?: string[];
  /** Initial server-wide fault (also what `reset()` returns to). Default none. */
  fault?: MockFault | null;
  /** Keep every request in `requests`. Default true; the benchmark passes false. */
  record?: boolean;
  /**
   * `Retry-After` seconds of the `fail-429` and `fail-503` answers; null sends no header. Default 2.
   */
  retryAfterSec?: number | null;
  /** Server keep-alive timeout (ms). Default 30000. */
  keepAliveTimeoutMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path + query as received, e.g. `/v1/chat/completions`. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw string when it was not JSON; undefined when empty. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test helper: assert freely on bodies
  body: any;
}

export interface MockUpstreamStats {
  /** Every request received (also counted when `record` is false). */
  requests: number;
  chatCompletions: number;
  /** Chat completions with `stream: true`. */
  streams: number;
  models: number;
  /** Rejected with 401. */
  unauthorized: number;
  /** Chat completions that got a fault. */
  faults: number;
  /** Requests whose client disconnected before the response was complete. */
  aborted: number;
  /** TCP connections accepted (keep-alive reuse keeps this low). */
  connections: number;
  openConnections: number;
  fault: MockFault | null;
}

export type MockUpstreamConfig = Pick<
  MockUpstreamOptions,
  | 'apiKey'
  | 'reply'
  | 'chunks'
  | 'latencyMs'
  | 'slowMs'
  | 'chunkDelayMs'
  | 'models'
  | 'retryAfterSec'
>;

export interface MockUpstream {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `url + '/v1'` — what an OpenAI client or a provider node takes as base URL. */
  readonly baseUrl: string;
  readonly port: number;
  readonly server: Server;
  /** Received requests, oldest first (empty when `record: false`). Same array across `reset()`. */
  readonly requests: RecordedRequest[];
  /** Number of requests received. */
  readonly count: number;
  /** Requests the client abandoned before the response was complete. */
  readonly aborted: number;
  /** Current server-wide fault. */
  readonly fault: MockFault | null;
  /** Current `Retry-After` seconds of `fail-429` / `fail-503` (null: no header). */
  readonly retryAfterSec: number | null;
  readonly reply: string;
  /** The content deltas a stream sends (their count is `completion_tokens`). */
  readonly replyChunks: string[];
  /** Server-wide fault for models that don't name one; `null` clears it. */
  setFault(fault: MockFault | null): void;
  /** Changes reply/chunking/delays/key/retryAfterSec at runtime (not undone by `reset()`). */
  configure(config: MockUpstreamConfig): void;
  /**
   * Clears `requests`, all counters and the `flaky-<n>` counts, and restores the initial
   * server-wide fault.
   */
  reset(): void;
  stats(): MockUpstreamStats;
  lastRequest(): RecordedRequest | undefined;
  /** Polls (every 10 ms) until `predicate` is true; rejects after `timeoutMs` (default 2000). */
  waitFor(predicate: (mock: MockUpstream) => boolean, timeoutMs?: number): Promise<void>;
  /** Stops listening and destroys every socket (hung ones included). Idempotent. */
  close(): Promise<void>;
}

export function startMockUpstream(opts?: MockUpstreamOptions): Promise<MockUpstream>;

/** Word pieces of `text` (leading space kept), or exactly `chunks` pieces. */
export function splitReply(text: string, chunks?: number | null): string[];
/** Characters of all message contents / 4, rounded up, at least 1. */
export function countPromptTokens(messages: unknown): number;

export const DEFAULT_REPLY: string;
export const DEFAULT_MODELS: readonly string[];
/** The named faults (the patterns `fail-<status>` and `flaky-<n>` are not listed). */
export const FAULTS: readonly MockFault[];
