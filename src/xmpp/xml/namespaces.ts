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
  /** XEP-0045 */
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
  mucAdmin: 'http://jabber.org/protocol/muc#admin',
  mucOwner: 'http://jabber.org/protocol/muc#owner',
  mucRoomInfo: 'http://jabber.org/protocol/muc#roominfo',
  /** XEP-0198 */
  sm: 'urn:xmpp:sm:3',
  /** XEP-0191 section 3.6 */
  blockingErrors: 'urn:xmpp:blocking:errors',
  /** XEP-0054 */
  vcard: 'vcard-temp',
  /** XEP-0012 */
  lastActivity: 'jabber:iq:last',
  /** XEP-0202 */
  time: 'urn:xmpp:time',
  /** XEP-0092 */
  version: 'jabber:iq:version',
  /** XEP-0049 */
  privateStorage: 'jabber:iq:private',
  /** This server's inbox (README, "Inbox over XMPP"). */
  inbox: 'urn:relay:inbox:0',
  /** XEP-0191 */
  blocking: 'urn:xmpp:blocking',
  /** XEP-0333 */
  chatMarkers: 'urn:xmpp:chat-markers:0',
  /** XEP-0184 */
  receipts: 'urn:xmpp:receipts',
  /** XEP-0308 */
  correction: 'urn:xmpp:message-correct:0',
  /** XEP-0424 (version 0.4 and later) */
  retraction: 'urn:xmpp:message-retract:1',
  /** XEP-0424 before 0.4, inside a XEP-0422 apply-to */
  retractionLegacy: 'urn:xmpp:message-retract:0',
  fasten: 'urn:xmpp:fasten:0',
  /** XEP-0428 */
  fallback: 'urn:xmpp:fallback:0',
  /** XEP-0334 */
  hints: 'urn:xmpp:hints',
  /** XEP-0352 */
  csi: 'urn:xmpp:csi:0',
} as const;
