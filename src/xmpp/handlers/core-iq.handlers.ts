import { Injectable, OnModuleInit } from '@nestjs/common';

import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { CAPS_NODE } from '#src/xmpp/xmpp-gateway.service.js';
import { el } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';

/**
 * The IQs every session relies on: service discovery (XEP-0030) listing
 * exactly the registered features, ping (XEP-0199), the legacy session
 * element (RFC 3921 section 3) and carbons (XEP-0280) on or off.
 */
@Injectable()
export class CoreIqHandlers implements OnModuleInit {
  constructor(private readonly registry: XmppHandlerRegistry) {}

  onModuleInit(): void {
    const registry = this.registry;
    registry.addFeatures(['server', 'self', 'account'], NS.discoInfo, NS.discoItems);
    registry.addFeatures(['server', 'self'], NS.ping);
    registry.addFeatures(['server'], NS.carbons);
    registry.registerIq({
      ns: NS.discoInfo,
      name: 'query',
      targets: ['server', 'self', 'account'],
      handle: ({ type, target, payload }) => {
        if (type !== 'get') {
          throw new StanzaError('bad-request', 'disco#info is a get');
        }
        const node = payload.attr('node');
        if (node !== undefined && !(target.kind === 'server' && node.startsWith(`${CAPS_NODE}#`))) {
          throw new StanzaError('item-not-found');
        }
        const identity =
          target.kind === 'server'
            ? el('identity', NS.discoInfo, { category: 'server', type: 'im', name: 'relay' })
            : el('identity', NS.discoInfo, { category: 'account', type: 'registered' });

        return el(
          'query',
          NS.discoInfo,
          { node },
          identity,
          ...registry
            .featuresOf(target.kind)
            .map((name) => el('feature', NS.discoInfo, { var: name })),
        );
      },
    });
    registry.registerIq({
      ns: NS.discoItems,
      name: 'query',
      targets: ['server', 'self', 'account'],
      handle: ({ type, payload, target }) => {
        if (type !== 'get') {
          throw new StanzaError('bad-request', 'disco#items is a get');
        }
        const node = payload.attr('node');
        // The components of a domain (its multi-user chat service) are its items.
        const items =
          target.kind === 'server' && node === undefined ? registry.serverItems(target.jid) : [];

        return el(
          'query',
          NS.discoItems,
          { node },
          ...items.map((item) => el('item', NS.discoItems, { jid: item.jid, name: item.name })),
        );
      },
    });
    registry.registerIq({
      ns: NS.ping,
      name: 'ping',
      targets: ['server', 'self'],
      handle: () => undefined,
    });
    registry.registerIq({
      ns: NS.session,
      name: 'session',
      targets: ['server', 'self'],
      handle: () => undefined,
    });
    for (const name of ['enable', 'disable']) {
      registry.registerIq({
        ns: NS.carbons,
        name,
        targets: ['self', 'server'],
        handle: ({ session, type }) => {
          if (type !== 'set') {
            throw new StanzaError('bad-request');
          }
          session.carbons = name === 'enable';

          return undefined;
        },
      });
    }
  }
}
