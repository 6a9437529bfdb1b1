import type { FastifyRequest } from 'fastify';
import { clientIp, isLoopback } from './client-ip';

describe(isLoopback.name, () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])('is true for %s', (ip) => {
    expect(isLoopback(ip)).toBe(true);
  });

  it.each(['10.0.0.1', '192.168.1.1', '::ffff:10.0.0.1', '2606:4700::1111', '128.0.0.1', ''])(
    'is false for %j',
    (ip) => {
      expect(isLoopback(ip)).toBe(false);
    },
  );

  it('is false for an unknown address', () => {
    expect(isLoopback(undefined)).toBe(false);
  });
});

describe(clientIp.name, () => {
  const req = (ip: string | undefined, remoteAddress?: string): FastifyRequest =>
    ({ ip, socket: { remoteAddress } }) as unknown as FastifyRequest;

  it("returns Fastify's request ip", () => {
    expect(clientIp(req('203.0.113.9', '10.0.0.1'))).toBe('203.0.113.9');
  });

  it('falls back to the socket address', () => {
    expect(clientIp(req(undefined, '10.0.0.1'))).toBe('10.0.0.1');
  });

  it('returns an empty string when nothing is known', () => {
    expect(clientIp(req(undefined, undefined))).toBe('');
  });
});
