import { DynamicModule, Module } from '@nestjs/common';

import { AuthModule } from '#src/auth/auth.module.js';
import { RealtimeGateway } from '#src/realtime/realtime.gateway.js';

@Module({})
export class RealtimeModule {
  static register(messaging: DynamicModule): DynamicModule {
    return {
      module: RealtimeModule,
      imports: [AuthModule, messaging],
      providers: [RealtimeGateway],
    };
  }
}
