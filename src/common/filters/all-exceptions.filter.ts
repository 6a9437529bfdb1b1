import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { dialectForPath, renderError, toAppError } from '@/common/errors/render';

/**
 * The one exception filter for Nest routes: every error becomes an AppError rendered in the shape
 * its path's callers expect (management JSON on /api/*, the SDK's dialect on the client API).
 * Unknown errors are logged with their stack and answered with a generic 500.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<FastifyRequest>();
    const reply = ctx.getResponse<FastifyReply>();
    sendError(exception, req, reply, this.logger);
  }
}

export function sendError(
  exception: unknown,
  req: FastifyRequest,
  reply: FastifyReply,
  logger?: Logger,
): void {
  if (req.url.startsWith('/health/') && isHealthReport(exception)) {
    // terminus's readiness report (which dependency is down) is the body operators expect.
    void reply.status(exception.getStatus()).send(exception.getResponse());
    return;
  }
  const err = toAppError(exception);
  if (err.status >= 500 && err.code === 'INTERNAL') {
    const e = exception as Error;
    (logger ?? new Logger('Exceptions')).error(
      {
        msg: `${req.method} ${req.routeOptions?.url ?? 'unknown route'}: ${e?.message}`,
        requestId: String(req.id),
      },
      e?.stack,
    );
  }
  const rendered = renderError(err, dialectForPath(req.url), String(req.id));
  if (reply.sent || reply.raw.headersSent) {
    return;
  }
  if (rendered.headers) {
    void reply.headers(rendered.headers);
  }
  void reply
    .status(rendered.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(rendered.body);
}

function isHealthReport(e: unknown): e is { getStatus(): number; getResponse(): object } {
  const h = e as { getStatus?: unknown; getResponse?: () => unknown };
  if (typeof h?.getStatus !== 'function' || typeof h.getResponse !== 'function') {
    return false;
  }
  const body = h.getResponse();
  return typeof body === 'object' && body !== null && 'status' in body && 'details' in body;
}
