/** XML namespaces of the protocols the gateway speaks, with the document defining each. */
export const NS = {
  /** RFC 6120 section 4.8.2 */
  client: 'jabber:client',
  /** RFC 6120 section 4.8.1 */
  stream: 'http://etherx.jabber.org/streams',
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams',
  stanzaErrors: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  tls: 'urn:ietf:params:xml:ns:xmpp-tls',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  /** RFC 3921 section 3, kept for old clients (RFC 6121 appendix E). */
  session: 'urn:ietf:params:xml:ns:xmpp-session',
  /** RFC 7395 */
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  /** XEP-0124 */
  httpbind: 'http://jabber.org/protocol/httpbind',
  /** XEP-0206 */
  xbosh: 'urn:xmpp:xbosh',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  discoItems: 'http://jabber.org/protocol/disco#items',
  caps: 'http://jabber.org/protocol/caps',
  ping: 'urn:xmpp:ping',
  mam: 'urn:xmpp:mam:2',
  rsm: 'http://jabber.org/protocol/rsm',
  dataForms: 'jabber:x:data',
  forward: 'urn:xmpp:forward:0',
  delay: 'urn:xmpp:delay',
  stanzaId: 'urn:xmpp:sid:0',
  carbons: 'urn:xmpp:carbons:2',
  /** XEP-0440 */
  saslChannelBinding: 'urn:xmpp:sasl-cb:0',
  roster: 'jabber:iq:roster',
  /** XEP-0085 */
  chatStates: 'http://jabber.org/protocol/chatstates',
  /** XEP-0198 */
  sm: 'urn:xmpp:sm:3',
  /** XEP-0191 section 3.6 */
  blockingErrors: 'urn:xmpp:blocking:errors',
} as const;
