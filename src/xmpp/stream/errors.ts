import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** Stream error conditions (RFC 6120 section 4.9.3). */
export type StreamCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

export class StreamError extends Error {
  constructor(
    readonly condition: StreamCondition,
    readonly text?: string,
    /** An application-specific condition element (RFC 6120 section 4.9.4). */
    readonly appCondition?: XmlElement,
  ) {
    super(text ?? condition);
  }

  toElement(): XmlElement {
    return el(
      'error',
      NS.stream,
      {},
      el(this.condition, NS.streamErrors),
      this.text === undefined ? undefined : el('text', NS.streamErrors, {}, this.text),
      this.appCondition,
    );
  }
}

/** Stanza error conditions (RFC 6120 section 8.3.3) with their default types. */
export const STANZA_CONDITIONS = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  'internal-server-error': 'wait',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'undefined-condition': 'cancel',
  'unexpected-request': 'modify',
} as const;

export type StanzaCondition = keyof typeof STANZA_CONDITIONS;

export class StanzaError extends Error {
  constructor(
    readonly condition: StanzaCondition,
    readonly text?: string,
    /** An application-specific condition element to add (RFC 6120 section 8.3.2). */
    readonly appCondition?: XmlElement,
  ) {
    super(text ?? condition);
  }

  /** The error reply to `stanza`: addresses swapped, the original id kept. */
  reply(stanza: XmlElement, serverFrom?: string): XmlElement {
    const from = stanza.attr('to') ?? serverFrom;

    return el(
      stanza.name,
      NS.client,
      { type: 'error', id: stanza.attr('id'), from, to: stanza.attr('from') },
      el(
        'error',
        NS.client,
        { type: STANZA_CONDITIONS[this.condition] },
        el(this.condition, NS.stanzaErrors),
        this.text === undefined ? undefined : el('text', NS.stanzaErrors, {}, this.text),
        this.appCondition,
      ),
    );
  }
}
