import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AccessScheduleView, KEY_LIMIT_DOCS, KeyBudgetView } from '@/policies/dto/key-policy.dto';
import type { AccessSchedule, KeyBudget } from '@/policies/policy.types';

/** The per-key policy fields, in every key response. */
class KeyPolicyResponse {
  @ApiProperty({ type: AccessScheduleView, nullable: true })
  accessSchedule!: AccessSchedule | null;
  @ApiProperty(KEY_LIMIT_DOCS.maxRequestsPerMinute) maxRequestsPerMinute!: number | null;
  @ApiProperty(KEY_LIMIT_DOCS.maxRequestsPerDay) maxRequestsPerDay!: number | null;
  @ApiProperty(KEY_LIMIT_DOCS.maxTokensPerMinute) maxTokensPerMinute!: number | null;
  @ApiProperty({ type: KeyBudgetView, nullable: true }) budget!: KeyBudget | null;
}

export class ApiKeyResponse extends KeyPolicyResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({
    description: 'Masked key: first 8 characters, ****, last 4',
    example: 'sk-AbCdE****wxyz',
  })
  key!: string;
  @ApiProperty({ enum: ['inference', 'admin'], isArray: true }) scopes!: string[];
  @ApiProperty() noLog!: boolean;
  @ApiProperty() isActive!: boolean;
  @ApiProperty({ type: [String] }) allowedModels!: string[];
  @ApiProperty({ type: [String] }) allowedConnections!: string[];
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Most concurrently active sessions; null = unlimited',
  })
  maxSessions!: number | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) expiresAt!:
    string | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastUsedAt!:
    string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;
}

export class ApiKeyListResponse {
  @ApiProperty({ type: [ApiKeyResponse] }) keys!: ApiKeyResponse[];
  @ApiProperty() total!: number;
  @ApiProperty({ description: 'Always false: keys are stored hashed and cannot be revealed' })
  allowKeyReveal!: boolean;
}

export class CreatedApiKeyResponse extends KeyPolicyResponse {
  @ApiProperty({ description: 'The full key. Shown once: only its hash is stored.' }) key!: string;
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty() noLog!: boolean;
  @ApiProperty({ type: Number, nullable: true, description: 'null = unlimited' })
  maxSessions!: number | null;
}
