import { Module } from '@nestjs/common';
import { KeysModule } from '@/keys/keys.module';
import { PricingModule } from '@/pricing/pricing.module';
import { BudgetController } from './budget.controller';
import { BudgetService } from './budget.service';
import { PolicyService } from './policy.service';

/** Per-key policies (schedule, RPM/RPD/TPM, budgets) and `/api/usage/budget` (the store is global). */
@Module({
  imports: [KeysModule, PricingModule],
  controllers: [BudgetController],
  providers: [PolicyService, BudgetService],
  exports: [PolicyService],
})
export class PolicyModule {}
