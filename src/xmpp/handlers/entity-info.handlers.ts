import { Injectable, OnModuleInit } from '@nestjs/common';

import { AppError } from '#src/common/errors/problems.js';
import { SERVER_VERSION } from '#src/common/version.js';
import { PresenceService } from '#src/presence/presence.service.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * What the server says about itself and about accounts: entity time
 * (XEP-0202), software version (XEP-0092) and last activity (XEP-0012),
 * the latter over the last-activity store REST reads.
 */
@Injectable()
export class EntityInfoHandlers implements OnModuleInit {
  private readonly startedAt = Date.now();

  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly presence: PresenceService,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['server'], NS.time, NS.version);
    this.registry.addFeatures(['server', 'self', 'account'], NS.lastActivity);
    this.registry.registerIq({
      ns: NS.time,
      name: 'time',
      targets: ['server'],
      handle: ({ type }) => {
        onlyGet(type);

        return entityTime(new Date());
      },
    });
    this.registry.registerIq({
      ns: NS.version,
      name: 'query',
      targets: ['server'],
      handle: ({ type }) => {
        onlyGet(type);

        // Section 3: `os` is optional, and left out so as not to tell attackers more than needed.
        return el(
          'query',
          NS.version,
          {},
          el('name', NS.version, {}, 'relay'),
          el('version', NS.version, {}, SERVER_VERSION),
        );
      },
    });
    this.registry.registerIq({
      ns: NS.lastActivity,
      name: 'query',
      targets: ['server', 'self', 'account'],
      handle: (request) => this.lastActivity(request),
    });
  }

  /**
   * Section 5: the server's uptime; sections 3 and 4: an account's time
   * since its last session ended (0 while online), only for those who
   * receive its presence, with the status of its last unavailable presence.
   */
  private async lastActivity({ type, target, session }: IqRequest): Promise<XmlElement> {
    onlyGet(type);
    if (target.kind === 'server') {
      const seconds = Math.floor((Date.now() - this.startedAt) / 1000);

      return el('query', NS.lastActivity, { seconds: String(seconds) });
    }
    let view;
    try {
      view = await this.presence.lastActivity(session.user, target.jid);
    } catch (error: unknown) {
      if (error instanceof AppError && error.code === 'forbidden') {
        throw new StanzaError('forbidden', error.message);
      }
      throw toStanzaError(error);
    }
    if (view.seconds === undefined) {
      throw new StanzaError('item-not-found', `${target.jid} has not been online yet`);
    }

    return el('query', NS.lastActivity, { seconds: String(view.seconds) }, view.status);
  }
}

function onlyGet(type: 'get' | 'set'): void {
  if (type !== 'get') {
    throw new StanzaError('bad-request', 'this query is a get');
  }
}

/** XEP-0202 section 3: the offset as XEP-0082 TZD and the time in UTC. */
export function entityTime(now: Date): XmlElement {
  const offset = -now.getTimezoneOffset();
  const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
  const minutes = String(Math.abs(offset) % 60).padStart(2, '0');

  return el(
    'time',
    NS.time,
    {},
    el('tzo', NS.time, {}, `${offset < 0 ? '-' : '+'}${hours}:${minutes}`),
    // Whole seconds, as in the XEP's examples.
    el('utc', NS.time, {}, now.toISOString().replace(/\.\d+Z$/, 'Z')),
  );
}
