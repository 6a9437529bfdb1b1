import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class ManagementErrorBody {
  @ApiProperty({ example: 'VALIDATION_FAILED' }) code!: string;
  @ApiProperty() message!: string;
  @ApiProperty() requestId!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) details?: Record<
    string,
    unknown
  >;
}

/** The management API's error body (every 4xx/5xx on /api/*). */
export class ManagementErrorResponse {
  @ApiProperty({ type: ManagementErrorBody }) error!: ManagementErrorBody;
  @ApiProperty() requestId!: string;
}

class OpenAiErrorBody {
  @ApiProperty() message!: string;
  @ApiProperty({ example: 'invalid_request_error' }) type!: string;
  @ApiPropertyOptional({ nullable: true }) param!: string | null;
  @ApiProperty({ example: 'model_not_found' }) code!: string;
}

/** OpenAI-dialect error body on the client API. */
export class OpenAiErrorResponse {
  @ApiProperty({ type: OpenAiErrorBody }) error!: OpenAiErrorBody;
}
