import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ApiKeyResponse {
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

export class CreatedApiKeyResponse {
  @ApiProperty({ description: 'The full key. Shown once: only its hash is stored.' }) key!: string;
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty() noLog!: boolean;
  @ApiProperty({ type: Number, nullable: true, description: 'null = unlimited' })
  maxSessions!: number | null;
}
