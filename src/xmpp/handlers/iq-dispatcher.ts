import { Injectable, Logger } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { parseJid, type Jid } from '#src/common/jid.js';
import { isAnswer, iqRequest, stanzaJid } from '#src/xmpp/handlers/addressing.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqTarget } from '#src/xmpp/handlers/handler-registry.js';
import { StanzaRouting } from '#src/xmpp/handlers/stanza-routing.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * IQ semantics (RFC 6120 section 8.2.3): a get or set carries exactly one
 * payload and gets exactly one result or error; results and errors are
 * never answered. IQs to the server, to the sender's own account and to
 * another local account's bare JID are answered here, by the handler
 * registered for the payload; an unknown payload gets service-unavailable.
 * IQs to a full JID, and their answers, go to that resource.
 */
@Injectable()
export class IqDispatcher {
  private readonly logger = new Logger('XmppIq');

  constructor(
    private readonly handlers: XmppHandlerRegistry,
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly blocking: BlockingService,
    private readonly routing: StanzaRouting,
  ) {}

  async dispatch(session: XmppSession, iq: XmlElement): Promise<void> {
    if (isAnswer(iq)) {
      await this.answer(session, iq);

      return;
    }
    const { type, payload } = iqRequest(iq);
    const target = await this.targetOf(session, iq.attr('to'));
    if (target.kind === 'resource') {
      await this.toResource(session, iq, target);

      return;
    }
    const handler = this.handlers.findIq(payload.ns, payload.name);
    if (handler === undefined || !handler.targets.includes(target.kind)) {
      throw new StanzaError('service-unavailable');
    }
    let result: XmlElement | undefined;
    try {
      result = await handler.handle({ session, stanza: iq, payload, type, target });
    } catch (error: unknown) {
      if (error instanceof StanzaError) {
        throw error;
      }
      this.logger.error({ err: error, ns: payload.ns }, 'IQ handler failed');
      throw new StanzaError('internal-server-error');
    }
    session.send(
      el(
        'iq',
        NS.client,
        {
          type: 'result',
          id: iq.attr('id'),
          to: session.fullJid,
          from: target.kind === 'self' ? undefined : target.jid,
        },
        result,
      ),
    );
  }

  /**
   * A result or error: to another resource it is routed there, when that
   * resource is still online; to the server (answers to its pings) or to a
   * resource that is gone, it ends here. Never answered.
   */
  private async answer(session: XmppSession, iq: XmlElement): Promise<void> {
    const to = iq.attr('to');
    const jid = to === undefined ? undefined : tryParseJid(to);
    if (jid?.resource === undefined || jid.local === '') {
      return;
    }
    const bare = `${jid.local}@${jid.domain}`;
    if (bare === session.jid && jid.resource === session.resource) {
      return;
    }
    if ((await this.domains.isEnabled(jid.domain)) === true) {
      await this.routing.route(bare, iq, jid.resource);
    }
  }

  /**
   * A get or set for another resource, the user's own or someone else's
   * (RFC 6121 section 8.5.3.1): routed to it as it is, and answered by it;
   * service-unavailable when it is not online, as for an account that does
   * not exist, or one that blocks the sender.
   */
  private async toResource(
    session: XmppSession,
    iq: XmlElement,
    target: Extract<IqTarget, { kind: 'resource' }>,
  ): Promise<void> {
    if (target.jid !== session.jid) {
      const recipient = await this.users.findByJid(target.jid);
      if (recipient === undefined) {
        throw new StanzaError('service-unavailable');
      }
      let verdict;
      try {
        verdict = await this.blocking.checkSend(session.user, recipient);
      } catch (error: unknown) {
        throw toStanzaError(error);
      }
      if (verdict === 'drop') {
        throw new StanzaError('service-unavailable');
      }
    }
    if (!(await this.routing.isOnline(target.jid, target.resource))) {
      throw new StanzaError('service-unavailable');
    }
    await this.routing.route(target.jid, iq, target.resource);
  }

  private async targetOf(session: XmppSession, to: string | undefined): Promise<IqTarget> {
    if (to === undefined) {
      return { kind: 'self', jid: session.jid };
    }
    const jid = stanzaJid(to);
    if ((await this.domains.isEnabled(jid.domain)) !== true) {
      // No server-to-server in this gateway.
      throw new StanzaError('remote-server-not-found');
    }
    if (jid.local === '') {
      if (jid.resource !== undefined) {
        throw new StanzaError('service-unavailable');
      }

      return { kind: 'server', jid: jid.domain };
    }
    const bare = `${jid.local}@${jid.domain}`;
    if (bare === session.jid && (jid.resource === undefined || jid.resource === session.resource)) {
      return { kind: 'self', jid: bare };
    }
    if (jid.resource !== undefined) {
      return { kind: 'resource', jid: bare, resource: jid.resource };
    }
    if ((await this.users.findByJid(bare)) === undefined) {
      // The same answer as an unknown payload (RFC 6121 section 8.5.2.2).
      throw new StanzaError('service-unavailable');
    }

    return { kind: 'account', jid: bare };
  }
}

function tryParseJid(text: string): Jid | undefined {
  try {
    return parseJid(text);
  } catch {
    // An answer to an address that does not parse has nowhere to go.
    return undefined;
  }
}
