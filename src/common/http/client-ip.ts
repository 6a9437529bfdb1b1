import type { FastifyRequest } from 'fastify';

/** True for 127.0.0.0/8, ::1 and the IPv4-mapped loopback. */
export function isLoopback(ip: string | undefined): boolean {
  if (!ip) {
    return false;
  }
  const v = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v === '::1' || v.startsWith('127.');
}

/** The socket's address (trustProxy is off: forwarded headers are not believed). */
export function clientIp(req: FastifyRequest): string {
  return req.ip ?? req.socket.remoteAddress ?? '';
}
