import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '@/common/errors/app-error';
import { extractApiKey } from '@/common/http/credentials';
import { Env } from '@/config/env.schema';
import { KeysService, type KeyPrincipal } from '@/keys/keys.service';

/** Who is calling the client API: a key, or nobody when REQUIRE_API_KEY=false and none was sent. */
export type Principal =
  | KeyPrincipal
  | {
      id: null;
      name: null;
      anonymous: true;
      noLog: false;
      allowedModels: readonly string[];
      allowedConnections: readonly string[];
      maxSessions: null;
    };

/** No key: REQUIRE_API_KEY=false callers, and internal calls made by the gateway itself. */
export const ANONYMOUS: Principal = {
  id: null,
  name: null,
  anonymous: true,
  noLog: false,
  allowedModels: [],
  allowedConnections: [],
  maxSessions: null,
};

const REASONS: Record<string, string> = {
  unknown: 'Invalid API key',
  revoked: 'This API key was revoked',
  disabled: 'This API key is disabled',
  expired: 'This API key has expired',
};

/**
 * API-key authentication for the client API (`/v1/*`), called from a Fastify `onRequest` hook on
 * the hot-path routes — the same `KeysService` lookup (cached) the management guard uses. A wrong
 * key is always rejected, even when keys are not required.
 */
@Injectable()
export class ApiKeyAuth {
  constructor(
    private readonly keys: KeysService,
    private readonly env: Env,
  ) {}

  async authenticate(
    headers: IncomingHttpHeaders,
    query?: URLSearchParams | null,
  ): Promise<Principal> {
    const raw = extractApiKey(headers, query ? Object.fromEntries(query) : undefined);
    if (!raw) {
      if (!this.env.REQUIRE_API_KEY) {
        return ANONYMOUS;
      }
      throw new AppError(
        'API_KEY_REQUIRED',
        'UNAUTHENTICATED',
        'Missing API key: send it as "Authorization: Bearer <key>" (or x-api-key)',
      );
    }
    const check = await this.keys.check(raw);
    if (!check.ok) {
      throw new AppError(
        check.reason === 'disabled' ? 'API_KEY_DISABLED' : 'API_KEY_INVALID',
        check.reason === 'disabled' ? 'FORBIDDEN' : 'UNAUTHENTICATED',
        REASONS[check.reason],
      );
    }
    if (!check.key.scopes.includes('inference')) {
      throw new AppError('API_KEY_SCOPE', 'FORBIDDEN', 'This API key has no inference scope');
    }
    return check.key;
  }
}
