/**
 * Characters XML 1.0 can carry (XML 1.0 section 2.2, production [2]):
 * #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
 * Text outside that set would make the stanza unsendable to XMPP clients,
 * so it is refused at the edge instead of stored.
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

export function isXmlSafe(text: string): boolean {
  // The `u` flag makes lone surrogates fail the class above as well.
  return !NOT_XML_CHAR.test(text);
}
