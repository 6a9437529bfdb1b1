import { Inject, Injectable, Logger } from '@nestjs/common';
import bcrypt from 'bcryptjs';
import { AppError } from '@/common/errors/app-error';
import { SecretsService } from '@/common/crypto/secrets.service';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { Env } from '@/config/env.schema';
import { SettingsService } from '@/settings/settings.service';
import { signJwt, verifyJwt } from './jwt';

export const AUTH_COOKIE = 'auth_token';
export const SESSION_TTL_SEC = 30 * 24 * 3600;
const MAX_FAILURES = 5;
const WINDOW_MS = 15 * 60_000;
const LOCK_MS = 15 * 60_000;
const BCRYPT_COST = 12;

const PASSWORD = 'auth.passwordHash';
const REQUIRE_LOGIN = 'auth.requireLogin';
const SETUP_COMPLETE = 'auth.setupComplete';

/**
 * The dashboard password (bcrypt in settings, seeded from INITIAL_PASSWORD), the HS256 session
 * cookie, and a brute-force lockout per client IP kept in the shared store (so it holds across
 * replicas).
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    private readonly settings: SettingsService,
    private readonly secrets: SecretsService,
    private readonly env: Env,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  async hasPassword(): Promise<boolean> {
    return Boolean(
      (await this.settings.get<string | null>(PASSWORD, null)) ?? this.env.INITIAL_PASSWORD,
    );
  }

  async requireLogin(): Promise<boolean> {
    return this.settings.get<boolean>(REQUIRE_LOGIN, true);
  }

  async status(): Promise<{ requireLogin: boolean; hasPassword: boolean; setupComplete: boolean }> {
    const hasPassword = await this.hasPassword();
    return {
      requireLogin: await this.requireLogin(),
      hasPassword,
      setupComplete: hasPassword || (await this.settings.get<boolean>(SETUP_COMPLETE, false)),
    };
  }

  private async storedHash(): Promise<string | null> {
    const stored = await this.settings.get<string | null>(PASSWORD, null);
    if (stored) {
      return stored;
    }
    if (this.env.INITIAL_PASSWORD) {
      const hash = await bcrypt.hash(this.env.INITIAL_PASSWORD, BCRYPT_COST);
      await this.settings.setIfAbsent(PASSWORD, hash);
      await this.settings.setIfAbsent(SETUP_COMPLETE, true);
      return this.settings.get<string | null>(PASSWORD, hash);
    }
    return null;
  }

  /** Returns a session token, or throws 401/403/429. */
  async login(password: string, ip: string): Promise<string> {
    const lockKey = `auth:lock:${ip}`;
    const lockTtl = await this.kv.pttl(lockKey).catch(() => -2);
    if (lockTtl > 0 || lockTtl === -1) {
      const secs = Math.max(1, Math.ceil(lockTtl / 1000));
      throw new AppError(
        'LOGIN_LOCKED',
        'RATE_LIMITED',
        'Too many failed attempts. Try again later.',
        { retryAfterSeconds: secs },
        429,
        {
          'retry-after': String(secs),
        },
      );
    }
    const hash = await this.storedHash();
    if (!hash) {
      throw new AppError(
        'NO_PASSWORD',
        'FORBIDDEN',
        'No password configured. Complete onboarding first.',
        { needsSetup: true },
      );
    }
    if (!(await bcrypt.compare(password, hash))) {
      const failures = await this.kv.incrBy(`auth:fail:${ip}`, 1, WINDOW_MS).catch(() => 0);
      if (failures >= MAX_FAILURES) {
        await this.kv.set(lockKey, '1', { ttlMs: LOCK_MS }).catch(() => undefined);
        await this.kv.del(`auth:fail:${ip}`).catch(() => 0);
      }
      this.logger.warn(`failed login from ${ip} (${failures}/${MAX_FAILURES})`);
      throw new AppError('INVALID_PASSWORD', 'UNAUTHENTICATED', 'Invalid password');
    }
    await this.kv.del(`auth:fail:${ip}`).catch(() => 0);
    return signJwt({ authenticated: true }, this.secrets.jwtSecret, SESSION_TTL_SEC);
  }

  verifySession(token: string | undefined): boolean {
    return Boolean(token && verifyJwt(token, this.secrets.jwtSecret)?.authenticated === true);
  }

  async updateRequireLogin(dto: { requireLogin?: boolean; password?: string }): Promise<void> {
    if (dto.requireLogin === undefined && dto.password === undefined) {
      throw AppError.invalid('No valid fields to update', {}, 'VALIDATION_FAILED');
    }
    if (dto.password !== undefined) {
      await this.settings.set(PASSWORD, await bcrypt.hash(dto.password, BCRYPT_COST));
      await this.settings.set(SETUP_COMPLETE, true);
    }
    if (dto.requireLogin !== undefined) {
      await this.settings.set(REQUIRE_LOGIN, dto.requireLogin);
    }
  }
}
