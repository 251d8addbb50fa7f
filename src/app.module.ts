import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';

import { AccountsAdminModule } from '#src/accounts/accounts-admin.module.js';
import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { ProblemFilter } from '#src/common/errors/problem.filter.js';
import { AppConfig } from '#src/config/app-config.js';
import { ConfigModule } from '#src/config/config.module.js';
import { ContactsModule } from '#src/contacts/contacts.module.js';
import { DatabaseModule } from '#src/database/database.module.js';
import { EventsModule } from '#src/events/events.module.js';
import { JsonBodyMiddleware } from '#src/common/json-body.middleware.js';
import { MessagingModule } from '#src/messaging/messaging.module.js';
import { ObservabilityModule } from '#src/observability/observability.module.js';
import { PresenceModule } from '#src/presence/presence.module.js';
import { ProfilesModule } from '#src/profiles/profiles.module.js';
import { RealtimeModule } from '#src/realtime/realtime.module.js';
import { RedisModule } from '#src/redis/redis.module.js';
import { RoomsModule } from '#src/rooms/rooms.module.js';
import { AdminSessionsModule } from '#src/routing/admin-sessions.module.js';
import { RoutingModule } from '#src/routing/routing.module.js';
import { XmppModule } from '#src/xmpp/xmpp.module.js';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    const messaging = MessagingModule.register({ sse: config.isEnabled('sse') });
    const rooms = config.isEnabled('rooms') ? [RoomsModule.register(messaging)] : [];
    const presence = PresenceModule.register({ realtime: config.isEnabled('realtime') });

    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule.register({ metrics: config.isEnabled('metrics') }),
        DatabaseModule,
        RedisModule,
        RoutingModule,
        EventsModule.register(config.isEnabled('webhooks')),
        AccountsModule,
        AuthModule,
        AccountsAdminModule,
        AdminSessionsModule,
        messaging,
        BlockingModule,
        ContactsModule,
        presence,
        ProfilesModule,
        ...rooms,
        ...(config.isEnabled('realtime') ? [RealtimeModule.register(messaging, rooms)] : []),
        ...(config.isEnabled('xmpp') ? [XmppModule.register(messaging, presence, rooms)] : []),
      ],
      providers: [{ provide: APP_FILTER, useClass: ProblemFilter }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(JsonBodyMiddleware).forRoutes('*');
  }
}
