import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { ComboConfig, ComboStep } from '@/combos/combo.types';

/** A combo row (table `combos`); the API shape is `Combo` (combo.types.ts). */
@Entity({ name: 'combos' })
export class ComboEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100, unique: true })
  name!: string;

  @Column({ type: 'varchar', length: 40, default: 'priority' })
  strategy!: string;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  steps!: ComboStep[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  config!: ComboConfig;

  @Column({ name: 'allowed_providers', type: 'jsonb', default: () => "'[]'" })
  allowedProviders!: string[];

  @Column({ name: 'system_message', type: 'text', nullable: true })
  systemMessage!: string | null;

  @Column({ name: 'tool_filter_regex', type: 'varchar', length: 1000, nullable: true })
  toolFilterRegex!: string | null;

  @Column({ name: 'context_length', type: 'integer', nullable: true })
  contextLength!: number | null;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive!: boolean;

  @Column({ name: 'is_hidden', type: 'boolean', default: false })
  isHidden!: boolean;

  @Column({ name: 'sort_order', type: 'integer', default: 0 })
  sortOrder!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
