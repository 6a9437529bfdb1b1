import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';

/** Paths pino blanks out on every line: credentials and prompt bodies never reach the logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.query.key',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
  'body',
  '*.body',
  'messages',
  '*.messages',
  'prompt',
  '*.prompt',
];

export function createRootLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'omniroute-gateway' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

const QUIET_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
]);

/** Nest's logger interface on top of the same pino instance, so every line is JSON. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly root: Logger) {}

  private ctx(optional: unknown[]): { context?: string } {
    const last = optional[optional.length - 1];
    return typeof last === 'string' ? { context: last } : {};
  }

  log(message: unknown, ...optional: unknown[]): void {
    const ctx = this.ctx(optional);
    // Nest's per-module boot chatter goes to debug; info stays readable.
    if (ctx.context && QUIET_CONTEXTS.has(ctx.context)) {
      this.root.debug(ctx, String(message));
      return;
    }
    this.root.info(ctx, String(message));
  }
  error(message: unknown, ...optional: unknown[]): void {
    const trace =
      optional.length > 1 && typeof optional[0] === 'string' ? { stack: optional[0] } : {};
    this.root.error(
      { ...this.ctx(optional), ...trace },
      message instanceof Error ? message.message : String(message),
    );
  }
  warn(message: unknown, ...optional: unknown[]): void {
    this.root.warn(this.ctx(optional), String(message));
  }
  debug(message: unknown, ...optional: unknown[]): void {
    this.root.debug(this.ctx(optional), String(message));
  }
  verbose(message: unknown, ...optional: unknown[]): void {
    this.root.trace(this.ctx(optional), String(message));
  }
  fatal(message: unknown, ...optional: unknown[]): void {
    this.root.fatal(this.ctx(optional), String(message));
  }
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
let seq = 0;
const bootTag = Date.now().toString(36);

/** The client's `x-request-id` when it is sane, else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  if (v && REQUEST_ID_RE.test(v)) {
    return v;
  }
  seq = (seq + 1) % 0x7fffffff;
  return `req_${bootTag}${process.pid.toString(36)}${seq.toString(36).padStart(6, '0')}`;
}
