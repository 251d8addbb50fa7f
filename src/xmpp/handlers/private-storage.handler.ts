import { Injectable, OnModuleInit } from '@nestjs/common';

import { AppError } from '#src/common/errors/problems.js';
import {
  PRIVATE_FRAGMENT_MAX_BYTES,
  PrivateStorageService,
} from '#src/private-storage/private-storage.service.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { XmlStreamParser } from '#src/xmpp/xml/stream-parser.js';

/**
 * Private XML storage (XEP-0049), as clients keep bookmarks (XEP-0048) in
 * it: a set stores each child of the query under its namespace, a get
 * returns what is stored under the namespace of its one child, or that
 * child back, empty. Only for the user's own account.
 */
@Injectable()
export class PrivateStorageHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly storage: PrivateStorageService,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['server', 'self'], NS.privateStorage);
    this.registry.registerIq({
      ns: NS.privateStorage,
      name: 'query',
      targets: ['server', 'self', 'account'],
      handle: (request) => {
        if (request.target.kind !== 'self') {
          // Section 3: another user's storage (or the server's) is off limits.
          throw new StanzaError('forbidden', 'private storage is your own account’s only');
        }

        return request.type === 'get' ? this.get(request) : this.set(request);
      },
    });
  }

  private async get({ session, payload }: IqRequest): Promise<XmlElement> {
    const children = payload.elements();
    if (children.length !== 1) {
      throw new StanzaError('bad-request', 'a private storage get names exactly one namespace');
    }
    const asked = children[0]!;
    checkNamespace(asked);
    const stored = await this.storage.get(session.user, asked.ns);

    return el(
      'query',
      NS.privateStorage,
      {},
      stored === undefined ? el(asked.name, asked.ns) : parseStored(stored.xml),
    );
  }

  private async set({ session, payload }: IqRequest): Promise<undefined> {
    const children = payload.elements();
    if (children.length === 0) {
      throw new StanzaError('bad-request', 'a private storage set carries at least one element');
    }
    children.forEach(checkNamespace);
    const fragments = children.map((child) => ({
      namespace: child.ns,
      name: child.name,
      xml: storable(child),
    }));
    try {
      await this.storage.store(session.user, fragments);
    } catch (error: unknown) {
      if (error instanceof AppError && error.code === 'payload-too-large') {
        throw new StanzaError('not-acceptable', error.message);
      }
      throw toStanzaError(error);
    }

    return undefined;
  }
}

/**
 * Section 3: every fragment has a namespace of its own, outside `jabber:`
 * (an element with none inherits `jabber:client`, so it is refused too).
 */
function checkNamespace(element: XmlElement): void {
  if (element.ns === '' || element.ns.startsWith('jabber:')) {
    throw new StanzaError('not-acceptable', 'private data needs a namespace outside jabber:*');
  }
}

/**
 * The element serialized, as it will be given back. The parsed tree keeps
 * no namespace declarations, so an attribute with a prefix other than
 * `xml:` would not parse again: such an element is refused now rather
 * than stored broken.
 */
function storable(element: XmlElement): string {
  const xml = element.toXml();
  try {
    parseStored(xml);
  } catch {
    throw new StanzaError('not-acceptable', 'this element cannot be stored as it is');
  }

  return xml;
}

/** A fragment as it was stored: serialized by this server, so it parses. */
function parseStored(xml: string): XmlElement {
  let parsed: XmlElement | undefined;
  let failure: Error | undefined;
  const parser = new XmlStreamParser(
    {
      onOpen: () => undefined,
      onElement: (element) => (parsed = element),
      onClose: () => undefined,
      onError: (error) => (failure = error),
    },
    {
      maxStanzaBytes: PRIVATE_FRAGMENT_MAX_BYTES * 2,
      syntheticRoot: `<stored xmlns='${NS.client}'>`,
    },
  );
  parser.write(xml);
  if (parsed === undefined) {
    throw failure ?? new Error('a stored private fragment did not parse');
  }

  return parsed;
}
