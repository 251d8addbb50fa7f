import { Injectable, OnModuleInit } from '@nestjs/common';

import { BlockingService } from '#src/blocking/blocking.service.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * The blocking command (XEP-0191) over the blocklist REST uses: the same
 * rows, limits and effects. Changes reach every session of the user as
 * pushes (section 3.3), from whichever door they came through, as the
 * BlockingService's `block` and `block:removed` deliveries; the XMPP
 * session that made the change hears the push too, as the XEP says.
 */
@Injectable()
export class BlockingHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly blocking: BlockingService,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['server'], NS.blocking);
    this.registry.registerIq({
      ns: NS.blocking,
      name: 'blocklist',
      targets: ['self'],
      handle: (request) => this.blocklist(request),
    });
    this.registry.registerIq({
      ns: NS.blocking,
      name: 'block',
      targets: ['self'],
      handle: (request) => this.block(request),
    });
    this.registry.registerIq({
      ns: NS.blocking,
      name: 'unblock',
      targets: ['self'],
      handle: (request) => this.unblock(request),
    });
  }

  /** Section 3.2: the whole list; the session gets pushes from now on. */
  private async blocklist({ session, type }: IqRequest): Promise<XmlElement> {
    if (type !== 'get') {
      throw new StanzaError('bad-request', 'the blocklist is read with a get');
    }
    const items = await this.blocking.list(session.user);
    session.blocklistRequested = true;

    return el(
      'blocklist',
      NS.blocking,
      {},
      ...items.map((item) => el('item', NS.blocking, { jid: item.jid })),
    );
  }

  /** Section 3.3: at least one item; all of them are blocked, or none. */
  private async block({ session, type, payload }: IqRequest): Promise<undefined> {
    const jids = itemsOf(type, payload);
    if (jids.length === 0) {
      throw new StanzaError('bad-request', 'a block names at least one item');
    }
    try {
      await this.blocking.blockMany(session.user, jids);
    } catch (error: unknown) {
      throw toStanzaError(error);
    }

    return undefined;
  }

  /** Section 3.4: the items named, or everything when none is. */
  private async unblock({ session, type, payload }: IqRequest): Promise<undefined> {
    const jids = itemsOf(type, payload);
    try {
      if (jids.length === 0) {
        await this.blocking.unblockAll(session.user);
      } else {
        await this.blocking.unblockMany(session.user, jids);
      }
    } catch (error: unknown) {
      throw toStanzaError(error);
    }

    return undefined;
  }
}

function itemsOf(type: 'get' | 'set', payload: XmlElement): string[] {
  if (type !== 'set') {
    throw new StanzaError('bad-request', `<${payload.name}/> is a set`);
  }

  return payload.elements().map((item) => {
    const jid = item.is('item', NS.blocking) ? item.attr('jid') : undefined;
    if (jid === undefined) {
      throw new StanzaError('bad-request', 'each item has a jid');
    }

    return jid;
  });
}
