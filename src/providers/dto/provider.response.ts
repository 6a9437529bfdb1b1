import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ConnectionResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() provider!: string;
  @ApiProperty({ example: 'apikey' }) authType!: string;
  @ApiProperty() name!: string;
  @ApiProperty() priority!: number;
  @ApiPropertyOptional({ nullable: true }) globalPriority!: number | null;
  @ApiProperty() isActive!: boolean;
  @ApiPropertyOptional({ nullable: true }) defaultModel!: string | null;
  @ApiProperty({ description: 'Whether a secret is stored (it is never returned)' })
  hasApiKey!: boolean;
  @ApiProperty({ example: 'unknown' }) testStatus!: string;
  @ApiPropertyOptional({ nullable: true }) lastError!: string | null;
  @ApiPropertyOptional({ nullable: true }) lastErrorAt!: string | null;
  @ApiPropertyOptional({ nullable: true }) errorCode!: string | null;
  @ApiPropertyOptional({ nullable: true }) lastTested!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) providerSpecificData!: Record<
    string,
    unknown
  >;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class ConnectionEnvelope {
  @ApiProperty({ type: ConnectionResponse }) connection!: ConnectionResponse;
}

export class ConnectionListResponse {
  @ApiProperty({ type: [ConnectionResponse] }) connections!: ConnectionResponse[];
}

export class ProviderTestResponse {
  @ApiProperty() valid!: boolean;
  @ApiPropertyOptional({ nullable: true }) error!: string | null;
  @ApiPropertyOptional({ nullable: true }) statusCode!: number | null;
  @ApiProperty() latencyMs!: number;
  @ApiProperty() testedAt!: string;
}

export class ProviderValidateResponse {
  @ApiProperty() valid!: boolean;
  @ApiPropertyOptional({ nullable: true }) error!: string | null;
  @ApiProperty({ example: 'models' }) method!: string;
}

export class ModelEntry {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
}

export class ProviderModelsResponse {
  @ApiProperty({ type: [ModelEntry] }) models!: ModelEntry[];
  @ApiProperty({ enum: ['live', 'registry', 'cache'] }) source!: string;
}

export class NodeResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'openai-compatible' }) type!: string;
  @ApiProperty() name!: string;
  @ApiProperty() prefix!: string;
  @ApiProperty({ example: 'chat' }) apiType!: string;
  @ApiProperty() baseUrl!: string;
  @ApiPropertyOptional({ nullable: true }) chatPath!: string | null;
  @ApiPropertyOptional({ nullable: true }) modelsPath!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class NodeEnvelope {
  @ApiProperty({ type: NodeResponse }) node!: NodeResponse;
}

export class NodeListResponse {
  @ApiProperty({ type: [NodeResponse] }) nodes!: NodeResponse[];
  @ApiProperty() ccCompatibleProviderEnabled!: boolean;
}
