import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

import type { ChannelBindings } from '#src/xmpp/sasl/scram.js';
import type { StreamTransport } from '#src/xmpp/stream/transport.js';
import type { XmppStream } from '#src/xmpp/stream/xmpp-stream.js';
import { channelBindingsOf, type TlsCredentials } from '#src/xmpp/transports/tls-credentials.js';
import { escapeAttr, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import type { IdleRelease } from '#src/xmpp/xml/idle-release.js';
import {
  XmlStreamParser,
  type XmlStreamError,
  type XmlStreamHandler,
} from '#src/xmpp/xml/stream-parser.js';
import type { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

const NO_BINDINGS: ChannelBindings = { types: new Map() };
/** How long a closing stream waits for the peer's close before dropping the connection. */
const CLOSE_GRACE_MS = 2000;

/**
 * RFC 6120 over TCP: one XML document per stream, restarted after
 * STARTTLS and SASL; direct TLS (XEP-0368) is the same with TLS from the
 * first byte.
 */
export class TcpTransport implements StreamTransport, XmlStreamHandler {
  readonly kind = 'tcp' as const;
  readonly address: string;
  private parser!: XmlStreamParser;
  private bindings: ChannelBindings = NO_BINDINGS;
  private readonly stream: XmppStream;
  private readonly maxStanzaBytes: number;
  private readonly idleRelease: IdleRelease;
  private ended = false;
  /** Output written while handling one event, sent as one write once its promise jobs are done. */
  private pending = '';
  private flushScheduled = false;
  private readonly flush = () => {
    this.flushScheduled = false;
    const text = this.pending;
    this.pending = '';
    if (text !== '' && !this.socket.destroyed && this.socket.writable) {
      this.socket.write(text);
    }
  };
  private readonly onData = (chunk: Buffer) => {
    if (!this.ended) {
      this.stream.onInput(chunk.length);
      this.parser.write(chunk);
    }
  };

  constructor(
    private socket: Socket,
    gateway: XmppGateway,
    private readonly credentials: TlsCredentials,
    private readonly secureContext: SecureContext,
  ) {
    this.address = socket.remoteAddress ?? 'unknown';
    this.maxStanzaBytes = gateway.config.xmpp.maxStanzaBytes;
    this.idleRelease = gateway.parserRelease;
    socket.setNoDelay(true);
    this.stream = gateway.open(this);
    if (socket instanceof TLSSocket) {
      this.bindings = { types: channelBindingsOf(socket, credentials) };
    }
    this.newParser();
    this.listen(socket);
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.stream.onTransportClosed());
  }

  private newParser(): void {
    this.parser = new XmlStreamParser(this, {
      maxStanzaBytes: this.maxStanzaBytes,
      idleRelease: this.idleRelease,
    });
  }

  /** The stream header (RFC 6120 section 4.2): the root must be a stream in jabber:client. */
  onOpen(root: XmlElement): void {
    if (!root.is('stream', NS.stream)) {
      this.stream.fail('invalid-namespace', 'the root must be stream:stream');
    } else if (root.attr('xmlns') !== NS.client) {
      this.stream.fail('invalid-namespace', 'the content namespace must be jabber:client');
    } else {
      this.stream.onHeader({
        to: root.attr('to'),
        version: root.attr('version'),
        lang: root.attr('xml:lang'),
      });
    }
  }

  onElement(element: XmlElement): void {
    this.stream.onElement(element);
  }

  /** The client closed its stream. */
  onClose(): void {
    this.stream.onEnd();
  }

  onError(error: XmlStreamError): void {
    this.stream.fail(error.condition, error.message);
  }

  isSecure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  canStartTls(): boolean {
    return !(this.socket instanceof TLSSocket);
  }

  startTls(): void {
    // <proceed/> goes out in the clear, before the handshake.
    this.flush();
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = new TLSSocket(plain, {
      isServer: true,
      secureContext: this.secureContext,
      ALPNProtocols: ['xmpp-client'],
    });
    this.socket = secure;
    this.newParser();
    secure.once('secure', () => {
      this.bindings = { types: channelBindingsOf(secure, this.credentials) };
    });
    this.listen(secure);
  }

  channelBindings(): ChannelBindings {
    return this.bindings;
  }

  sendHeader(attrs: Record<string, string>): void {
    let header = `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'`;
    for (const [name, value] of Object.entries(attrs)) {
      header += ` ${name}='${escapeAttr(value)}'`;
    }
    this.write(`${header}>`);
  }

  send(element: XmlElement): void {
    this.write(element.toXml(NS.client, true));
  }

  restart(): void {
    this.newParser();
  }

  end(error?: XmlElement): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.write(`${error === undefined ? '' : error.toXml(NS.client, true)}</stream:stream>`);
    this.flush();
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  outboundBytes(): number {
    return this.socket.writableLength + this.pending.length;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Everything sent while handling one event (a login's several answers, the
   * deliveries of one archive commit) leaves in one system call. The write
   * waits for the promise jobs that event started, not for the rest of the
   * event loop's I/O: a delivery that waited for the check phase queued
   * behind every other socket and database reply read in the same poll.
   */
  private write(text: string): void {
    this.pending += text;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }
}
