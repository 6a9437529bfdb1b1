import { DynamicModule, Global, Module } from '@nestjs/common';
import { Env, validateEnv } from './env.schema';

/**
 * Provides the validated `Env` to every module. The environment is read once (by `main.ts`, or by a
 * test that builds its own); services take `Env` by injection and never read `process.env`.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(env: Env = validateEnv(process.env)): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: Env, useValue: env }], exports: [Env] };
  }
}
