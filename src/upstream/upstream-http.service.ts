import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { AppError } from '@/common/errors/app-error';
import { Env } from '@/config/env.schema';
import { isPrivateAddress } from '@/providers/ssrf';

export interface UpstreamRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | Buffer;
  /** An AbortSignal, or any EventEmitter with `aborted` that emits 'abort' (undici accepts both). */
  signal?: AbortSignal | (EventEmitter & { aborted: boolean });
  /** This call's limit for the response headers (default `UPSTREAM_TIMEOUT_MS`). */
  headersTimeout?: number;
  /** This call's limit for a silence inside the body (default `STREAM_IDLE_TIMEOUT_MS`). */
  bodyTimeout?: number;
}

type LookupCb = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * The one pooled, keep-alive HTTP client for every upstream call (undici Agent). Timeouts: connect,
 * headers (`UPSTREAM_TIMEOUT_MS`) and body idle (`STREAM_IDLE_TIMEOUT_MS`). Unless private
 * upstreams are allowed, every connection is refused when the host resolves to a private address,
 * so a DNS change after the base URL was checked cannot reach the internal network.
 */
@Injectable()
export class UpstreamHttp implements OnApplicationShutdown {
  private agent: Agent;
  private connectMs: number;
  private readonly lookup: (hostname: string, options: LookupOptions, cb: LookupCb) => void;
  private readonly literalOk = new Map<string, boolean>();

  constructor(private readonly env: Env) {
    const allowPrivate = env.ALLOW_PRIVATE_UPSTREAMS;
    this.lookup = (hostname: string, options: LookupOptions, cb: LookupCb): void => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) {
          cb(err, '');
          return;
        }
        const list = addresses;
        if (!allowPrivate) {
          const bad = list.find((a) => isPrivateAddress(a.address));
          if (bad) {
            const e: NodeJS.ErrnoException = new Error(
              `upstream host ${hostname} resolves to a private address (${bad.address})`,
            );
            e.code = 'ESSRF';
            cb(e, '');
            return;
          }
        }
        if (options.all) {
          cb(null, list);
        } else {
          cb(null, list[0].address, list[0].family);
        }
      });
    };
    this.connectMs = env.UPSTREAM_CONNECT_TIMEOUT_MS;
    this.agent = this.makeAgent();
  }

  private makeAgent(): Agent {
    return new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 256,
      pipelining: 1,
      headersTimeout: this.env.UPSTREAM_TIMEOUT_MS,
      bodyTimeout: this.env.STREAM_IDLE_TIMEOUT_MS,
      connect: { timeout: this.connectMs, lookup: this.lookup },
    });
  }

  /**
   * A new connect timeout (resilience settings): new connections use a new pool; the old one
   * finishes its in-flight requests and closes.
   */
  setConnectTimeout(ms: number): void {
    if (ms === this.connectMs) {
      return;
    }
    this.connectMs = ms;
    const old = this.agent;
    this.agent = this.makeAgent();
    void old.close().catch(() => undefined);
  }

  private assertLiteralHost(url: URL): void {
    if (this.env.ALLOW_PRIVATE_UPSTREAMS) {
      return;
    }
    let ok = this.literalOk.get(url.host);
    if (ok === undefined) {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      ok = !(isIP(host) && isPrivateAddress(host)) && host !== 'localhost';
      if (this.literalOk.size > 1000) {
        this.literalOk.clear();
      }
      this.literalOk.set(url.host, ok);
    }
    if (!ok) {
      throw new AppError(
        'SSRF_BLOCKED',
        'FORBIDDEN',
        `Upstream ${url.host} is a private address; set ALLOW_PRIVATE_UPSTREAMS=true to allow it`,
      );
    }
  }

  /** Parsed upstream URLs (a handful per connection), so the hot path does not parse one per call. */
  private readonly targets = new Map<string, { origin: string; path: string }>();

  private target(raw: string): { origin: string; path: string } {
    let t = this.targets.get(raw);
    if (!t) {
      const url = new URL(raw);
      this.assertLiteralHost(url);
      t = { origin: url.origin, path: url.pathname + url.search };
      if (this.targets.size > 5_000) {
        this.targets.clear();
      }
      this.targets.set(raw, t);
    }
    return t;
  }

  async request(req: UpstreamRequest): Promise<Dispatcher.ResponseData> {
    const { origin, path } = this.target(req.url);
    return this.agent.request({
      origin,
      path,
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      headersTimeout: req.headersTimeout,
      bodyTimeout: req.bodyTimeout,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

/** Maps a transport failure to the client-facing error (reference §1.3: network 502, timeout 504). */
export function transportError(e: unknown, provider: string): AppError {
  if (e instanceof AppError) {
    return e;
  }
  const err = e as { code?: string; name?: string; message?: string };
  const code = err.code ?? '';
  if (err.name === 'AbortError' || code === 'UND_ERR_ABORTED') {
    return new AppError('CLIENT_CLOSED', 'CLIENT_CLOSED', 'Request aborted');
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new AppError('UPSTREAM_TIMEOUT', 'UPSTREAM_TIMEOUT', `Upstream ${provider} timed out`);
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new AppError(
      'UPSTREAM_TIMEOUT',
      'UPSTREAM_TIMEOUT',
      `Upstream ${provider} connect timed out`,
    );
  }
  if (code === 'ESSRF') {
    return new AppError('SSRF_BLOCKED', 'FORBIDDEN', err.message ?? 'Upstream address refused');
  }
  return new AppError(
    'UPSTREAM_UNREACHABLE',
    'UPSTREAM_ERROR',
    `Upstream ${provider} unreachable: ${code || err.message || 'network error'}`,
  );
}
