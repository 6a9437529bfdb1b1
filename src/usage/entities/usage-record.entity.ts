import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One upstream attempt (reference §4.7 usage_history). The id is made by the gateway: idempotent writes. */
@Entity({ name: 'usage_records' })
export class UsageRecord {
  @PrimaryColumn('uuid') id!: string;
  @Column({ name: 'request_id', type: 'varchar', length: 128 }) requestId!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true }) apiKeyId!: string | null;
  @Column({ name: 'api_key_name', type: 'varchar', length: 200, nullable: true }) apiKeyName!:
    string | null;
  @Column({ type: 'varchar', length: 40 }) surface!: string;
  @Column({ type: 'varchar', length: 120, nullable: true }) provider!: string | null;
  @Column({ type: 'varchar', length: 300, nullable: true }) model!: string | null;
  @Column({ name: 'connection_id', type: 'uuid', nullable: true }) connectionId!: string | null;
  @Column({ type: 'integer' }) status!: number;
  @Column({ type: 'boolean' }) success!: boolean;
  @Column({ type: 'boolean', default: false }) stream!: boolean;
  @Column({ name: 'tokens_input', type: 'integer', default: 0 }) tokensInput!: number;
  @Column({ name: 'tokens_output', type: 'integer', default: 0 }) tokensOutput!: number;
  @Column({ name: 'tokens_cache_read', type: 'integer', default: 0 }) tokensCacheRead!: number;
  @Column({ name: 'tokens_cache_creation', type: 'integer', default: 0 })
  tokensCacheCreation!: number;
  @Column({ name: 'tokens_reasoning', type: 'integer', default: 0 }) tokensReasoning!: number;
  @Column({ name: 'latency_ms', type: 'integer', default: 0 }) latencyMs!: number;
  @Column({ name: 'ttft_ms', type: 'integer', nullable: true }) ttftMs!: number | null;
  @Column({ type: 'varchar', length: 100, nullable: true }) combo!: string | null;
  @Column({ type: 'smallint', default: 1 }) attempt!: number;
  @Column({ name: 'error_code', type: 'varchar', length: 80, nullable: true }) errorCode!:
    string | null;
}
