import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class SetAliasDto {
  @ApiProperty({
    example: 'openai/gpt-4o-mini',
    description: 'What the alias names: provider/model or a combo',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(300)
  model!: string;

  @ApiProperty({
    example: 'fast',
    description: 'A model name without "/" (letters, digits, . _ : - and * as a wildcard)',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  alias!: string;
}

export class AliasListResponse {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { fast: 'openai/gpt-4o-mini', 'claude-*': 'anthropic-compatible-x/claude-sonnet-4' },
  })
  aliases!: Record<string, string>;

  @ApiProperty({ example: '12.3.1' }) catalogVersion!: string;
}

class ResolvedAlias {
  @ApiProperty({ example: 'openai' }) provider!: string;
  @ApiProperty({ example: 'openai' }) providerAlias!: string;
  @ApiProperty({ example: 'gpt-4o-mini' }) model!: string;
  @ApiProperty({ example: 'openai/gpt-4o-mini' }) qualifiedId!: string;
  @ApiProperty({ example: 'alias', enum: ['alias', 'glob-alias'] }) source!: string;
  @ApiProperty({ example: 'openai/gpt-4o-mini' }) target!: string;
  @ApiPropertyOptional({ example: 'fast', description: 'The alias (or glob) that matched' })
  matched?: string;
}

export class AliasResolveResponse {
  @ApiProperty({ example: 'fast' }) alias!: string;
  @ApiProperty({ type: ResolvedAlias }) resolved!: ResolvedAlias;
  @ApiProperty({ example: '12.3.1' }) catalogVersion!: string;
}

class CatalogModel {
  @ApiProperty({ example: 'openai/gpt-4o' }) id!: string;
  @ApiProperty({ example: 'gpt-4o' }) name!: string;
  @ApiProperty({ enum: ['chat', 'embedding', 'image', 'audio'] }) type!: string;
  @ApiProperty() custom!: boolean;
}

export class CatalogProvider {
  @ApiProperty({ example: 'OpenAI' }) provider!: string;
  @ApiProperty({ description: 'Has at least one active connection' }) active!: boolean;
  @ApiProperty({ type: [CatalogModel] }) models!: CatalogModel[];
}
