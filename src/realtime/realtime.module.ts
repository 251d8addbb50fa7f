import { DynamicModule, Module } from '@nestjs/common';

import { AuthModule } from '#src/auth/auth.module.js';
import { RealtimeGateway } from '#src/realtime/realtime.gateway.js';

@Module({})
export class RealtimeModule {
  /** `features`: the optional modules whose socket events the gateway serves when they are on (rooms). */
  static register(
    messaging: DynamicModule,
    features: readonly DynamicModule[] = [],
  ): DynamicModule {
    return {
      module: RealtimeModule,
      imports: [AuthModule, messaging, ...features],
      providers: [RealtimeGateway],
    };
  }
}
