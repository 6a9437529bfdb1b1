import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/** One credential (account) for one provider. The secret is AES-256-GCM encrypted at rest. */
@Entity({ name: 'provider_connections' })
export class ProviderConnection {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 120 })
  provider!: string;

  @Column({ name: 'auth_type', type: 'varchar', length: 20, default: 'apikey' })
  authType!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'integer', default: 1 })
  priority!: number;

  @Column({ name: 'global_priority', type: 'integer', nullable: true })
  globalPriority!: number | null;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive!: boolean;

  @Column({ name: 'default_model', type: 'varchar', length: 300, nullable: true })
  defaultModel!: string | null;

  @Column({ name: 'secret_enc', type: 'text', nullable: true })
  secretEnc!: string | null;

  @Column({ name: 'provider_specific_data', type: 'jsonb', default: () => "'{}'" })
  providerSpecificData!: Record<string, unknown>;

  @Column({ name: 'test_status', type: 'varchar', length: 30, default: 'unknown' })
  testStatus!: string;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'last_error_at', type: 'timestamptz', nullable: true })
  lastErrorAt!: Date | null;

  @Column({ name: 'error_code', type: 'varchar', length: 60, nullable: true })
  errorCode!: string | null;

  @Column({ name: 'last_tested', type: 'timestamptz', nullable: true })
  lastTested!: Date | null;

  /** Per-connection request/token limits; NULL protection = the global auto-enable setting. */
  @Column({ name: 'rate_limit_protection', type: 'boolean', nullable: true })
  rateLimitProtection!: boolean | null;

  @Column({ name: 'rpm_limit', type: 'integer', nullable: true })
  rpmLimit!: number | null;

  @Column({ name: 'tpm_limit', type: 'integer', nullable: true })
  tpmLimit!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
