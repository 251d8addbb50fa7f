import type { ChannelBindings } from '#src/xmpp/sasl/scram.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';

export type TransportKind = 'tcp' | 'websocket' | 'bosh';

/**
 * What differs between TCP, WebSocket and BOSH: framing, TLS and flow
 * control. Everything else is the one stream state machine.
 */
export interface StreamTransport {
  readonly kind: TransportKind;
  readonly address: string;
  /** TLS in place: on the socket, or (HTTP transports) a loopback peer or a trusted proxy's https. */
  isSecure(): boolean;
  canStartTls(): boolean;
  /** After `<proceed/>` (RFC 6120 section 5.4.3.3): upgrade, then expect a new header. */
  startTls(): void;
  channelBindings(): ChannelBindings;
  /** The response stream header (RFC 6120 section 4.7) in this transport's framing. */
  sendHeader(attrs: Record<string, string>): void;
  send(element: XmlElement): void;
  /** A new stream after SASL success (RFC 6120 section 6.4.6): a fresh parser. */
  restart(): void;
  /** Ends the stream, after an error if given, and the connection. */
  end(error?: XmlElement): void;
  /** Bytes written and not yet taken by the peer. */
  outboundBytes(): number;
  pause(): void;
  resume(): void;
}
