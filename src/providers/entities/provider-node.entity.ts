import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A user-defined OpenAI-compatible endpoint; its id doubles as its connections' provider id. */
@Entity({ name: 'provider_nodes' })
export class ProviderNode {
  @PrimaryColumn({ type: 'varchar', length: 120 })
  id!: string;

  @Column({ type: 'varchar', length: 40 })
  type!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'varchar', length: 100 })
  prefix!: string;

  @Column({ name: 'api_type', type: 'varchar', length: 40, default: 'chat' })
  apiType!: string;

  @Column({ name: 'base_url', type: 'text' })
  baseUrl!: string;

  @Column({ name: 'chat_path', type: 'varchar', length: 300, nullable: true })
  chatPath!: string | null;

  @Column({ name: 'models_path', type: 'varchar', length: 300, nullable: true })
  modelsPath!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
