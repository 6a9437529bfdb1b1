import { DynamicModule, Global, Module } from '@nestjs/common';
import { HotPathSlot } from './hot-path.slot';

/** Makes the server's hot-path slot injectable (the gateway module fills it). */
@Global()
@Module({})
export class HotPathModule {
  static forRoot(slot: HotPathSlot): DynamicModule {
    return {
      module: HotPathModule,
      providers: [{ provide: HotPathSlot, useValue: slot }],
      exports: [HotPathSlot],
    };
  }
}
