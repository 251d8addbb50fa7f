import { DynamicModule, Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { HealthController } from '#src/observability/health.controller.js';
import { MetricsController } from '#src/observability/metrics.controller.js';
import { MetricsService } from '#src/observability/metrics.service.js';

@Global()
@Module({})
export class ObservabilityModule {
  static register(options: { readonly metrics: boolean }): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, ...(options.metrics ? [MetricsController] : [])],
      providers: [MetricsService],
      exports: [MetricsService],
    };
  }
}
