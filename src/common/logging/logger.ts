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

  /** A message may be an object (`{ msg, requestId, … }`): its fields become JSON fields. */
  private emit(
    level: 'info' | 'warn' | 'error' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    optional: unknown[],
    extra: object = {},
  ): void {
    const ctx = this.ctx(optional);
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const { msg, ...fields } = message as { msg?: unknown };
      this.root[level](
        { ...ctx, ...extra, ...fields },
        typeof msg === 'string' ? msg : JSON.stringify(msg ?? ''),
      );
      return;
    }
    this.root[level](
      { ...ctx, ...extra },
      message instanceof Error ? message.message : String(message),
    );
  }

  log(message: unknown, ...optional: unknown[]): void {
    const ctx = this.ctx(optional);
    // Nest's per-module boot chatter goes to debug; info stays readable.
    this.emit(ctx.context && QUIET_CONTEXTS.has(ctx.context) ? 'debug' : 'info', message, optional);
  }
  error(message: unknown, ...optional: unknown[]): void {
    const trace =
      optional.length > 1 && typeof optional[0] === 'string' ? { stack: optional[0] } : {};
    this.emit('error', message, optional, trace);
  }
  warn(message: unknown, ...optional: unknown[]): void {
    this.emit('warn', message, optional);
  }
  debug(message: unknown, ...optional: unknown[]): void {
    this.emit('debug', message, optional);
  }
  verbose(message: unknown, ...optional: unknown[]): void {
    this.emit('trace', message, optional);
  }
  fatal(message: unknown, ...optional: unknown[]): void {
    this.emit('fatal', message, optional);
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
