import { ApiProperty } from '@nestjs/swagger';

export class TelemetryPhaseResponse {
  @ApiProperty({ description: 'Requests that went through this phase' }) count!: number;
  @ApiProperty({ description: 'Median, ms' }) p50!: number;
  @ApiProperty({ description: '95th percentile (nearest rank), ms' }) p95!: number;
  @ApiProperty({ description: 'Mean, ms' }) avg!: number;
}

export class TelemetryPhaseBreakdownResponse {
  @ApiProperty({
    type: TelemetryPhaseResponse,
    description: 'Upstream time to first byte (requests that reached an upstream)',
  })
  upstream_ttfb!: TelemetryPhaseResponse;
  @ApiProperty({
    type: TelemetryPhaseResponse,
    description: 'Time spent in the gateway before the upstream call started',
  })
  gateway_overhead!: TelemetryPhaseResponse;
}

export class TelemetryGroupResponse {
  @ApiProperty({ description: 'Requests in the window' }) count!: number;
  @ApiProperty({ description: 'Median total latency, ms' }) p50!: number;
  @ApiProperty({ description: '95th percentile total latency, ms' }) p95!: number;
  @ApiProperty({ description: '99th percentile total latency, ms' }) p99!: number;
  @ApiProperty({ description: 'Mean total latency, ms' }) avg!: number;
  @ApiProperty({ description: 'Share of 5xx and 429 answers, percent (0..100)' })
  errorRate!: number;
}

export class TelemetryMemoryUsageResponse {
  @ApiProperty({ description: 'Resident set size, bytes' }) rss!: number;
  @ApiProperty() heapTotal!: number;
  @ApiProperty() heapUsed!: number;
  @ApiProperty() external!: number;
  @ApiProperty() arrayBuffers!: number;
}

export class TelemetryWindowResponse {
  @ApiProperty({ description: 'The window asked for (windowMs)', example: 300000 }) ms!: number;
  @ApiProperty({
    type: String,
    format: 'date-time',
    description:
      'Start of what the figures actually cover: now − ms, aligned down to a 10 s (windows ≤ 1 h) or 5 min slice when merged across replicas, or the oldest kept sample when this replica’s 10 000-request buffer is shorter than the window',
  })
  from!: string;
  @ApiProperty({ type: String, format: 'date-time' }) to!: string;
}

export class TelemetrySummaryResponse {
  @ApiProperty({ description: 'Requests in the window' }) count!: number;
  @ApiProperty({ description: 'Mean total latency, ms' }) avg!: number;
  @ApiProperty({ description: 'Median total latency (nearest rank), ms' }) p50!: number;
  @ApiProperty({ description: '95th percentile total latency, ms' }) p95!: number;
  @ApiProperty({ description: '99th percentile total latency, ms' }) p99!: number;
  @ApiProperty({ type: TelemetryPhaseBreakdownResponse })
  phaseBreakdown!: TelemetryPhaseBreakdownResponse;
  @ApiProperty({ description: 'Requests in the window (same as count)' }) totalRequests!: number;
  @ApiProperty({ description: 'Mean total latency, ms (same as avg)' }) avgLatencyMs!: number;
  @ApiProperty({ description: 'Share of 5xx and 429 answers in the window, percent (0..100)' })
  errorRate!: number;
  @ApiProperty({ description: 'Seconds since this replica started' }) uptime!: number;
  @ApiProperty({ type: TelemetryMemoryUsageResponse, description: 'This replica’s process memory' })
  memoryUsage!: TelemetryMemoryUsageResponse;
  @ApiProperty({
    description: 'Client requests in flight (summed over live replicas when merged)',
  })
  activeConnections!: number;
  @ApiProperty({ type: TelemetryWindowResponse }) window!: TelemetryWindowResponse;
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/TelemetryGroupResponse' },
    description: 'Figures per provider id (the provider that answered the request)',
    example: { openai: { count: 42, p50: 812, p95: 2140, p99: 3020, avg: 901.5, errorRate: 2.38 } },
  })
  providers!: Record<string, TelemetryGroupResponse>;
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/TelemetryGroupResponse' },
    description: 'Figures per client surface (openai-chat, anthropic, responses, gemini, ollama)',
  })
  surfaces!: Record<string, TelemetryGroupResponse>;
  @ApiProperty({
    enum: ['replica', 'cluster'],
    description:
      'cluster: every replica’s figures merged through Redis (percentiles from log-bucket histograms, ±2 %); replica: this process only (exact; in-process store, or Redis unreadable)',
  })
  scope!: 'replica' | 'cluster';
  @ApiProperty({ description: 'Replicas the figures cover' }) replicas!: number;
}
