import { ApiProperty } from '@nestjs/swagger';

export class SessionInfoResponse {
  @ApiProperty({
    description: 'ext:<client id> (header or body field) or fp:<fingerprint>',
    example: 'ext:3f1c2a9e-claude-code',
  })
  sessionId!: string;
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'The key of its latest request; null without a key',
  })
  apiKeyId!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' }) lastActive!: string;
  @ApiProperty({ description: 'Requests since the session started' }) requestCount!: number;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The provider connection that last served it (sticky affinity)',
  })
  connectionId!: string | null;
  @ApiProperty({ description: 'Milliseconds since the session started' }) ageMs!: number;
  @ApiProperty({ enum: ['header', 'fingerprint'] }) source!: 'header' | 'fingerprint';
}

export class SessionsListResponse {
  @ApiProperty({ description: 'Active sessions (30 min idle TTL) in total' }) count!: number;
  @ApiProperty({ type: [SessionInfoResponse], description: 'Newest first, at most 1000' })
  sessions!: SessionInfoResponse[];
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    description: 'Active sessions per API key id (`anon`: requests without a key)',
    example: { '6f1d0c55-4a57-4a43-9d36-0f4fb5c1b0a1': 2, anon: 1 },
  })
  byApiKey!: Record<string, number>;
}
