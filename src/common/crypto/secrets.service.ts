import { Injectable, Logger } from '@nestjs/common';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Env } from '@/config/env.schema';

/** Turns ENCRYPTION_KEY (64 hex chars, base64 of 32 bytes, or a long passphrase) into 32 bytes. */
export function deriveKey(raw: string): Buffer {
  const s = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) {
    return Buffer.from(s, 'hex');
  }
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
    const b = Buffer.from(s, 'base64');
    if (b.length === 32) {
      return b;
    }
  }
  return createHash('sha256').update(s).digest();
}

const PREFIX = 'v1';

/** AES-256-GCM with a random 96-bit IV; output `v1:<iv>:<tag>:<ciphertext>` (base64url). */
export function encryptWith(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return [
    PREFIX,
    iv.toString('base64url'),
    c.getAuthTag().toString('base64url'),
    ct.toString('base64url'),
  ].join(':');
}

export function decryptWith(key: Buffer, sealed: string): string {
  const [v, iv, tag, ct] = sealed.split(':');
  if (v !== PREFIX || !iv || !tag || ct === undefined) {
    throw new Error('Unrecognised ciphertext format');
  }
  // Without authTagLength Node accepts a tag truncated to 4 bytes, which makes forgery feasible.
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
    authTagLength: 16,
  });
  d.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
}

/**
 * The gateway's own secrets: the at-rest encryption key and the JWT signing secret. Taken from the
 * environment; outside production, generated once into DATA_DIR (mode 0600) when unset. In
 * production both are required (validated at boot), since every replica must share them.
 */
@Injectable()
export class SecretsService {
  private readonly logger = new Logger(SecretsService.name);
  readonly encryptionKey: Buffer;
  readonly jwtSecret: string;

  constructor(env: Env) {
    this.encryptionKey = deriveKey(
      env.ENCRYPTION_KEY ?? this.generated(env.DATA_DIR, 'encryption-key'),
    );
    this.jwtSecret = env.JWT_SECRET ?? this.generated(env.DATA_DIR, 'jwt-secret');
  }

  private generated(dataDir: string, name: string): string {
    const dir = resolve(dataDir);
    const file = join(dir, name);
    if (existsSync(file)) {
      return readFileSync(file, 'utf8').trim();
    }
    mkdirSync(dir, { recursive: true });
    const value = randomBytes(32).toString('hex');
    writeFileSync(file, value, { mode: 0o600 });
    chmodSync(file, 0o600);
    this.logger.warn(
      `${name} was not set: generated one into ${file} (set it explicitly for several replicas)`,
    );
    return value;
  }

  encrypt(plaintext: string): string {
    return encryptWith(this.encryptionKey, plaintext);
  }

  decrypt(sealed: string): string {
    return decryptWith(this.encryptionKey, sealed);
  }
}
