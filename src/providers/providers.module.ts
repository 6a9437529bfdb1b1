import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProviderConnection } from './entities/provider-connection.entity';
import { ProviderNode } from './entities/provider-node.entity';
import { ProviderNodesController } from './provider-nodes.controller';
import { ProvidersController } from './providers.controller';
import { ProvidersService } from './providers.service';

@Module({
  imports: [TypeOrmModule.forFeature([ProviderConnection, ProviderNode])],
  controllers: [ProvidersController, ProviderNodesController],
  providers: [ProvidersService],
  exports: [ProvidersService],
})
export class ProvidersModule {}
