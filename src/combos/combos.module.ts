import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CombosController } from './combos.controller';
import { CombosService } from './combos.service';
import { ComboEntity } from './entities/combo.entity';

@Module({
  imports: [TypeOrmModule.forFeature([ComboEntity])],
  controllers: [CombosController],
  providers: [CombosService],
  exports: [CombosService],
})
export class CombosModule {}
