import { Controller, Get, Inject } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '@/common/guards/public.decorator';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';

const TIMEOUT_MS = 2_000;

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly ds: DataSource,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  @Get('live')
  @ApiOperation({
    operationId: 'Health_live',
    summary: 'Liveness: the process answers (checks nothing external)',
  })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    operationId: 'Health_ready',
    summary: 'Readiness: Postgres and the key-value store (Redis) answer',
  })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down' })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.probe('database', async () => void (await this.ds.query('SELECT 1')), {}),
      () => this.probe('kv', () => this.kv.ping(), { kind: this.kv.kind }),
    ]);
  }

  private async probe<K extends string>(
    key: K,
    fn: () => Promise<void>,
    info: Record<string, string>,
  ): Promise<HealthIndicatorResult<K>> {
    const session = this.indicators.check(key);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        fn(),
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
        }),
      ]);
      return session.up(info);
    } catch (e) {
      return session.down({ ...info, message: (e as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
