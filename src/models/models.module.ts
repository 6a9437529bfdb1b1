import { Module } from '@nestjs/common';
import { SettingsModule } from '@/settings/settings.module';
import { AliasesService } from './aliases.service';

/** Model aliases (the `/api/models/*` routes live with the catalogue in the gateway module). */
@Module({
  imports: [SettingsModule],
  providers: [AliasesService],
  exports: [AliasesService],
})
export class ModelsModule {}
