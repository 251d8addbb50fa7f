import { Injectable, Logger } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { UsersService } from '#src/accounts/users.service.js';
import { JidError, parseJid } from '#src/common/jid.js';
import { XmppHandlerRegistry, type IqTarget } from '#src/xmpp/handlers/handler-registry.js';
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
 */
@Injectable()
export class IqDispatcher {
  private readonly logger = new Logger('XmppIq');

  constructor(
    private readonly handlers: XmppHandlerRegistry,
    private readonly users: UsersService,
    private readonly domains: DomainsService,
  ) {}

  async dispatch(session: XmppSession, iq: XmlElement): Promise<void> {
    const type = iq.attr('type');
    if (type === 'result' || type === 'error') {
      // Answers to the server's own requests (pings); the stream already noted the activity.
      return;
    }
    if ((type !== 'get' && type !== 'set') || iq.attr('id') === undefined) {
      throw new StanzaError('bad-request', 'an IQ needs an id and type get or set');
    }
    const payloads = iq.elements();
    if (payloads.length !== 1) {
      throw new StanzaError('bad-request', 'an IQ get or set carries exactly one payload');
    }
    const payload = payloads[0]!;
    const target = await this.targetOf(session, iq.attr('to'));
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

  private async targetOf(session: XmppSession, to: string | undefined): Promise<IqTarget> {
    if (to === undefined) {
      return { kind: 'self', jid: session.jid };
    }
    let jid;
    try {
      jid = parseJid(to);
    } catch (error: unknown) {
      if (error instanceof JidError) {
        throw new StanzaError('jid-malformed', error.reason);
      }
      throw error;
    }
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
    if (jid.resource !== undefined || (await this.users.findByJid(bare)) === undefined) {
      // IQs between resources are routed in part two; a missing account is the same answer (RFC 6121 8.5.2.2).
      throw new StanzaError('service-unavailable');
    }

    return { kind: 'account', jid: bare };
  }
}
