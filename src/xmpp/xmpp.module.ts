import { DynamicModule, Module } from '@nestjs/common';

import { AccountsModule } from '#src/accounts/accounts.module.js';
import { AuthModule } from '#src/auth/auth.module.js';
import { CoreIqHandlers } from '#src/xmpp/handlers/core-iq.handlers.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { ImHandlers } from '#src/xmpp/handlers/im.handlers.js';
import { IqDispatcher } from '#src/xmpp/handlers/iq-dispatcher.js';
import { MamHandler } from '#src/xmpp/handlers/mam.handler.js';
import { SaslAuthenticator } from '#src/xmpp/sasl/sasl-authenticator.service.js';
import { XmppListeners } from '#src/xmpp/transports/xmpp-listeners.service.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/**
 * The XMPP gateway: an adapter over the messaging, archive and account
 * services, with no storage of its own. Off (MODULES without `xmpp`), it
 * listens on no port and mounts nothing on the HTTP server.
 */
@Module({})
export class XmppModule {
  static register(messaging: DynamicModule): DynamicModule {
    return {
      module: XmppModule,
      imports: [AuthModule, AccountsModule, messaging],
      providers: [
        XmppHandlerRegistry,
        IqDispatcher,
        SaslAuthenticator,
        XmppGateway,
        CoreIqHandlers,
        ImHandlers,
        MamHandler,
        XmppListeners,
      ],
      exports: [XmppListeners, XmppGateway, XmppHandlerRegistry],
    };
  }
}
