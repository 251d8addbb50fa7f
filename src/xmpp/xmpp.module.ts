import { DynamicModule, Module, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { AppConfig } from '#src/config/app-config.js';
import { ContactsModule } from '#src/contacts/contacts.module.js';
import { PrivateStorageModule } from '#src/private-storage/private-storage.module.js';
import { ProfilesModule } from '#src/profiles/profiles.module.js';
import { REDIS } from '#src/redis/redis.module.js';
import { EntityInfoHandlers } from '#src/xmpp/handlers/entity-info.handlers.js';
import { BlockingHandler } from '#src/xmpp/handlers/blocking.handler.js';
import { CoreIqHandlers } from '#src/xmpp/handlers/core-iq.handlers.js';
import { CsiHandler } from '#src/xmpp/handlers/csi.handler.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { ImHandlers } from '#src/xmpp/handlers/im.handlers.js';
import { InboxHandler } from '#src/xmpp/handlers/inbox.handler.js';
import { IqDispatcher } from '#src/xmpp/handlers/iq-dispatcher.js';
import { MamHandler } from '#src/xmpp/handlers/mam.handler.js';
import { MessageExtensions } from '#src/xmpp/handlers/message-extensions.js';
import { OfflineDelivery } from '#src/xmpp/handlers/offline-delivery.js';
import { PresenceHandler } from '#src/xmpp/handlers/presence.handler.js';
import { PrivateStorageHandler } from '#src/xmpp/handlers/private-storage.handler.js';
import { RosterHandler } from '#src/xmpp/handlers/roster.handler.js';
import { StanzaRouting } from '#src/xmpp/handlers/stanza-routing.js';
import { VCardHandler } from '#src/xmpp/handlers/vcard.handler.js';
import { MucAffiliations } from '#src/xmpp/muc/muc-affiliations.js';
import { MucArchive } from '#src/xmpp/muc/muc-archive.js';
import { MucIq } from '#src/xmpp/muc/muc-iq.handler.js';
import { MucOccupants } from '#src/xmpp/muc/muc-occupants.service.js';
import { MucRoomEvents } from '#src/xmpp/muc/muc-room-events.js';
import { MucState } from '#src/xmpp/muc/muc-state.js';
import { MucHandler } from '#src/xmpp/muc/muc.handler.js';
import {
  MemoryOccupantDirectory,
  OccupantDirectory,
  RedisOccupantDirectory,
} from '#src/xmpp/muc/occupant-directory.js';
import { SaslAuthenticator } from '#src/xmpp/sasl/sasl-authenticator.service.js';
import { XmppListeners } from '#src/xmpp/transports/xmpp-listeners.service.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/** Multi-user chat over the rooms module, when it is on (src/xmpp/muc). */
const MUC_PROVIDERS: Provider[] = [
  {
    provide: OccupantDirectory,
    inject: [AppConfig, REDIS],
    useFactory: (config: AppConfig, redis: Redis | null) =>
      redis === null || config.redis.mode === 'memory'
        ? new MemoryOccupantDirectory()
        : new RedisOccupantDirectory(redis, config.redis.keyPrefix),
  },
  MucState,
  MucRoomEvents,
  MucOccupants,
  MucArchive,
  MucAffiliations,
  MucIq,
  MucHandler,
];

/**
 * The XMPP gateway: an adapter over the messaging, archive, account,
 * contacts, presence and (when on) rooms services, with no storage of its own. Off (MODULES without `xmpp`), it
 * listens on no port and mounts nothing on the HTTP server.
 */
@Module({})
export class XmppModule {
  static register(
    messaging: DynamicModule,
    presence: DynamicModule,
    rooms: readonly DynamicModule[] = [],
  ): DynamicModule {
    return {
      module: XmppModule,
      imports: [
        AuthModule,
        AccountsModule,
        BlockingModule,
        ContactsModule,
        messaging,
        presence,
        ProfilesModule,
        PrivateStorageModule,
        ...rooms,
      ],
      providers: [
        XmppHandlerRegistry,
        StanzaRouting,
        IqDispatcher,
        SaslAuthenticator,
        XmppGateway,
        CoreIqHandlers,
        ImHandlers,
        MamHandler,
        OfflineDelivery,
        RosterHandler,
        PresenceHandler,
        InboxHandler,
        VCardHandler,
        EntityInfoHandlers,
        PrivateStorageHandler,
        XmppListeners,
        ...(rooms.length === 0 ? [] : MUC_PROVIDERS),
        BlockingHandler,
        CsiHandler,
        MessageExtensions,
      ],
      exports: [XmppListeners, XmppGateway, XmppHandlerRegistry, StanzaRouting],
    };
  }
}
