import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '@/providers/providers.module';
import { UsageRecord } from './entities/usage-record.entity';
import { UsageQueryService } from './usage-query.service';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';

@Module({
  imports: [TypeOrmModule.forFeature([UsageRecord]), ProvidersModule],
  controllers: [UsageController],
  providers: [UsageService, UsageQueryService],
  exports: [UsageService],
})
export class UsageModule {}
