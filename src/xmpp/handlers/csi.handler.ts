import { Injectable, OnModuleInit } from '@nestjs/common';

import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { StreamError } from '#src/xmpp/stream/errors.js';
import { el } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * Client state indication (XEP-0352): a stream feature once authenticated,
 * and the `<active/>` and `<inactive/>` nonzas, which the session obeys in
 * stream order (see CsiBuffer for what waits). A session starts active.
 */
@Injectable()
export class CsiHandler implements OnModuleInit {
  constructor(private readonly registry: XmppHandlerRegistry) {}

  onModuleInit(): void {
    this.registry.addStreamFeature(el('csi', NS.csi));
    this.registry.registerNonza(NS.csi, (session, element) => {
      if (element.name !== 'active' && element.name !== 'inactive') {
        throw new StreamError('unsupported-stanza-type', `<${element.name}/> in ${NS.csi}`);
      }
      session.setActive(element.name === 'active');
    });
  }
}
