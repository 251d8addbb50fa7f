import { DynamicModule, Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingModule } from '#src/blocking/blocking.module.js';
import { ContactsModule } from '#src/contacts/contacts.module.js';
import { BlockingHandler } from '#src/xmpp/handlers/blocking.handler.js';
import { CoreIqHandlers } from '#src/xmpp/handlers/core-iq.handlers.js';
import { CsiHandler } from '#src/xmpp/handlers/csi.handler.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { ImHandlers } from '#src/xmpp/handlers/im.handlers.js';
import { IqDispatcher } from '#src/xmpp/handlers/iq-dispatcher.js';
import { MamHandler } from '#src/xmpp/handlers/mam.handler.js';
import { MessageExtensions } from '#src/xmpp/handlers/message-extensions.js';
import { OfflineDelivery } from '#src/xmpp/handlers/offline-delivery.js';
import { PresenceHandler } from '#src/xmpp/handlers/presence.handler.js';
import { RosterHandler } from '#src/xmpp/handlers/roster.handler.js';
import { SaslAuthenticator } from '#src/xmpp/sasl/sasl-authenticator.service.js';
import { XmppListeners } from '#src/xmpp/transports/xmpp-listeners.service.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/**
 * The XMPP gateway: an adapter over the messaging, archive, account,
 * contacts and presence services, with no storage of its own. Off (MODULES without `xmpp`), it
 * listens on no port and mounts nothing on the HTTP server.
 */
@Module({})
export class XmppModule {
  static register(messaging: DynamicModule, presence: DynamicModule): DynamicModule {
    return {
      module: XmppModule,
      imports: [AuthModule, AccountsModule, BlockingModule, ContactsModule, messaging, presence],
      providers: [
        XmppHandlerRegistry,
        IqDispatcher,
        SaslAuthenticator,
        XmppGateway,
        CoreIqHandlers,
        ImHandlers,
        MamHandler,
        OfflineDelivery,
        RosterHandler,
        PresenceHandler,
        XmppListeners,
        BlockingHandler,
        CsiHandler,
        MessageExtensions,
      ],
      exports: [XmppListeners, XmppGateway, XmppHandlerRegistry],
    };
  }
}
