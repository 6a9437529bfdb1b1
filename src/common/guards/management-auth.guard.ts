import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AUTH_COOKIE, AuthService } from '@/auth/auth.service';
import { AppError } from '@/common/errors/app-error';
import { clientIp, isLoopback } from '@/common/http/client-ip';
import { extractApiKey, readCookie } from '@/common/http/credentials';
import { KeysService } from '@/keys/keys.service';
import { IS_PUBLIC } from './public.decorator';

/**
 * Global, default-deny guard for every Nest route (the management API and operations). Accepts the
 * dashboard session cookie or an `admin`-scope API key; an inference-only key gets 403. While no
 * admin password exists, requests from loopback are let through (fresh-install bootstrap).
 * `@Public()` routes skip it.
 */
@Injectable()
export class ManagementAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly keys: KeysService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) {
      return true;
    }
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const raw = extractApiKey(req.headers);
    if (raw) {
      const check = await this.keys.check(raw);
      if (!check.ok) {
        throw AppError.unauthenticated(`Invalid API key (${check.reason})`, 'API_KEY_INVALID');
      }
      if (!check.key.scopes.includes('admin')) {
        throw AppError.forbidden(
          'This API key has no admin scope: management routes need an admin key or a dashboard login',
          'API_KEY_SCOPE',
        );
      }
      return true;
    }
    if (this.auth.verifySession(readCookie(req.headers.cookie, AUTH_COOKIE))) {
      return true;
    }
    if (!(await this.auth.requireLogin())) {
      return true;
    }
    if (!(await this.auth.hasPassword()) && isLoopback(clientIp(req))) {
      return true;
    }
    throw AppError.unauthenticated(
      'Authentication required: log in or send an admin API key',
      'AUTH_REQUIRED',
    );
  }
}
