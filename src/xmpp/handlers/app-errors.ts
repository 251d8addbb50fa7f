import { AppError } from '#src/common/errors/problems.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * A domain service's problem as the stanza error an XMPP client expects
 * (RFC 6120 section 8.3.3); anything that is not an AppError is passed on
 * to end as internal-server-error.
 */
export function toStanzaError(error: unknown): unknown {
  if (!(error instanceof AppError)) {
    return error;
  }
  switch (error.code) {
    case 'user-not-found':
      return new StanzaError('service-unavailable');
    case 'not-found':
      return new StanzaError('item-not-found', error.message);
    case 'invalid-jid':
      return new StanzaError('jid-malformed', error.message);
    case 'validation':
    case 'bad-request':
      return new StanzaError('bad-request', error.message);
    case 'message-too-large':
      return new StanzaError('policy-violation', error.message);
    case 'contacts-limit-reached':
    case 'blocks-limit-reached':
      return new StanzaError('resource-constraint', error.message);
    case 'not-author':
      // XEP-0308 section 6 and XEP-0424 section 7: only the author changes a message.
      return new StanzaError('forbidden', error.message);
    case 'message-retracted':
      return new StanzaError('not-acceptable', error.message);
    case 'recipient-blocked':
      // XEP-0191 section 3.6: the blocker sending to a blocked address.
      return new StanzaError('not-acceptable', error.message, el('blocked', NS.blockingErrors));
    case 'message-not-found':
    case 'idempotency-key-reused':
      return new StanzaError('not-acceptable', error.message);
    default:
      return new StanzaError('undefined-condition', error.message);
  }
}
