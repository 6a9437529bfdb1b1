import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

/** One model's prices, USD per 1M tokens (documentation only: the service validates). */
export class ModelPriceDto {
  @ApiProperty({ minimum: 0, example: 2.5, description: 'Fresh input tokens' })
  input!: number;

  @ApiProperty({ minimum: 0, example: 10, description: 'Output tokens (reasoning included)' })
  output!: number;

  @ApiPropertyOptional({ minimum: 0, example: 1.25, description: 'Cache reads; input if absent' })
  cached?: number;

  @ApiPropertyOptional({
    minimum: 0,
    description: 'Reasoning tokens; charged as output if absent',
  })
  reasoning?: number;

  @ApiPropertyOptional({ minimum: 0, description: 'Cache writes; input if absent' })
  cache_creation?: number;

  @ApiPropertyOptional({
    minimum: 0,
    example: 0.04,
    description:
      'USD per generated image when no `image:<size>[/<quality>]` field matches (e.g. `"image:1024x1024/hd": 0.08`, `"image:*/hd"`)',
  })
  image?: number;

  @ApiPropertyOptional({
    minimum: 0,
    example: 0.0001,
    description: 'USD per second of transcribed audio',
  })
  audio_second?: number;
}

/** A `PATCH /api/pricing` entry: any subset of the fields, laid over the current price. */
export class ModelPricePatchDto {
  @ApiPropertyOptional({ minimum: 0, example: 2.5 })
  input?: number;

  @ApiPropertyOptional({ minimum: 0, example: 10 })
  output?: number;

  @ApiPropertyOptional({ minimum: 0 })
  cached?: number;

  @ApiPropertyOptional({ minimum: 0 })
  reasoning?: number;

  @ApiPropertyOptional({ minimum: 0 })
  cache_creation?: number;

  @ApiPropertyOptional({
    minimum: 0,
    description: 'Per image; `image:<size>[/<quality>]` fields too',
  })
  image?: number;

  @ApiPropertyOptional({ minimum: 0, description: 'Per second of audio' })
  audio_second?: number;
}

/** `{ "<provider>": { "<model>": <item> } }`. */
function nested(item: SchemaObject | { $ref: string }, description: string): SchemaObject {
  return {
    type: 'object',
    description,
    additionalProperties: { type: 'object', additionalProperties: item },
  };
}

export const PRICING_TABLE_SCHEMA = (): SchemaObject =>
  nested({ $ref: getSchemaPath(ModelPriceDto) }, 'Provider → model → prices (USD per 1M tokens)');

export const PRICING_PATCH_SCHEMA = (): SchemaObject => ({
  ...nested(
    { $ref: getSchemaPath(ModelPricePatchDto) },
    'Provider → model → prices to set (USD per 1M tokens, numbers >= 0, only these fields)',
  ),
  example: {
    openai: { 'gpt-4o': { input: 2, output: 8 } },
    'my-node': { 'local-model': { input: 0, output: 0 } },
  },
});

/** `GET /api/pricing?includeSources=1`. */
export class PricingWithSourcesResponse {
  @ApiProperty({
    type: 'object',
    additionalProperties: {
      type: 'object',
      additionalProperties: { $ref: getSchemaPath(ModelPriceDto) },
    },
  })
  pricing!: Record<string, Record<string, ModelPriceDto>>;

  @ApiProperty({
    type: 'object',
    description: 'Provider → model → where the merged price comes from',
    additionalProperties: {
      type: 'object',
      additionalProperties: { type: 'string', enum: ['default', 'user'] },
    },
  })
  sourceMap!: Record<string, Record<string, 'default' | 'user'>>;
}
