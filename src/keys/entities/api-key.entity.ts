import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { AccessSchedule, KeyBudget } from '@/policies/policy.types';

export type KeyScope = 'inference' | 'admin';

/** A client API key. Only its SHA-256 and a display prefix/suffix are stored. */
@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'key_hash', type: 'char', length: 64 })
  keyHash!: string;

  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix!: string;

  @Column({ name: 'key_last4', type: 'varchar', length: 4 })
  keyLast4!: string;

  @Column({ type: 'text', array: true, default: () => "'{inference}'" })
  scopes!: KeyScope[];

  @Column({ name: 'no_log', type: 'boolean', default: false })
  noLog!: boolean;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive!: boolean;

  @Column({ name: 'allowed_models', type: 'jsonb', default: () => "'[]'" })
  allowedModels!: string[];

  @Column({ name: 'allowed_connections', type: 'jsonb', default: () => "'[]'" })
  allowedConnections!: string[];

  /** Most concurrently active sessions (30 min idle TTL) this key may hold; null = unlimited. */
  @Column({ name: 'max_sessions', type: 'integer', nullable: true })
  maxSessions!: number | null;

  /** Hours and weekdays the key may be used (policies module); null = always. */
  @Column({ name: 'access_schedule', type: 'jsonb', nullable: true })
  accessSchedule!: AccessSchedule | null;

  @Column({ name: 'max_requests_per_minute', type: 'integer', nullable: true })
  maxRequestsPerMinute!: number | null;

  @Column({ name: 'max_requests_per_day', type: 'integer', nullable: true })
  maxRequestsPerDay!: number | null;

  @Column({ name: 'max_tokens_per_minute', type: 'integer', nullable: true })
  maxTokensPerMinute!: number | null;

  /** Spending limit (policies module); null = none. */
  @Column({ type: 'jsonb', nullable: true })
  budget!: KeyBudget | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
