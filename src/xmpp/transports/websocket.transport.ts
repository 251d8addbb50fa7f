import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import type { AppConfig } from '#src/config/app-config.js';
import type { ChannelBindings } from '#src/xmpp/sasl/scram.js';
import type { StreamTransport } from '#src/xmpp/stream/transport.js';
import type { XmppStream } from '#src/xmpp/stream/xmpp-stream.js';
import { isSecureRequest } from '#src/xmpp/transports/http-security.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { XmlStreamParser } from '#src/xmpp/xml/stream-parser.js';
import type { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

export const WEBSOCKET_PATH = '/xmpp-websocket';
const NO_BINDINGS: ChannelBindings = { types: new Map() };
/** Frames carry no root of their own: this one gives them the client namespaces (RFC 7395 section 3.3.3). */
const FRAME_ROOT = `<frames xmlns='${NS.client}' xmlns:stream='${NS.stream}'>`;

/**
 * XMPP over WebSocket (RFC 7395): one element per message, the stream
 * header replaced by `<open/>` and its end by `<close/>`, in the `xmpp`
 * subprotocol, on the HTTP port beside socket.io.
 */
export class WebSocketTransport implements StreamTransport {
  readonly kind = 'websocket' as const;
  readonly address: string;
  private readonly parser: XmlStreamParser;
  private readonly stream: XmppStream;
  private readonly secure: boolean;
  private ended = false;

  constructor(
    private readonly socket: WebSocket,
    request: IncomingMessage,
    gateway: XmppGateway,
  ) {
    this.address = request.socket.remoteAddress ?? 'unknown';
    this.secure = isSecureRequest(request, gateway.config.http.trustProxy);
    this.stream = gateway.open(this);
    this.parser = new XmlStreamParser(
      {
        onOpen: () => undefined,
        onElement: (element) => this.onFrame(element),
        onClose: () => undefined,
        onError: (error) => this.stream.fail(error.condition, error.message),
      },
      {
        maxStanzaBytes: gateway.config.xmpp.maxStanzaBytes,
        syntheticRoot: FRAME_ROOT,
        idleRelease: gateway.parserRelease,
      },
    );
    socket.on('message', (data: RawData) => {
      if (!this.ended) {
        const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
        this.stream.onInput(buffer.length);
        this.parser.write(buffer);
      }
    });
    socket.on('close', () => this.stream.onTransportClosed());
    socket.on('error', () => socket.terminate());
  }

  private onFrame(element: XmlElement): void {
    if (element.is('open', NS.framing)) {
      this.stream.onHeader({
        to: element.attr('to'),
        version: element.attr('version'),
        lang: element.attr('xml:lang'),
      });
    } else if (element.is('close', NS.framing)) {
      this.stream.onEnd();
    } else if (element.is('stream', NS.stream)) {
      // RFC 7395 section 3.3.2: a TCP-style header is not framing.
      this.stream.fail('unsupported-stanza-type', 'use <open/> over WebSocket');
    } else {
      this.stream.onElement(element);
    }
  }

  isSecure(): boolean {
    return this.secure;
  }

  canStartTls(): boolean {
    return false;
  }

  startTls(): void {
    throw new Error('no STARTTLS over WebSocket');
  }

  channelBindings(): ChannelBindings {
    return NO_BINDINGS;
  }

  sendHeader(attrs: Record<string, string>): void {
    this.write(el('open', NS.framing, attrs).toXml());
  }

  send(element: XmlElement): void {
    this.write(element.toXml());
  }

  restart(): void {
    // The client sends a new <open/>; the frame parser goes on (RFC 7395 section 3.7).
  }

  end(error?: XmlElement): void {
    if (this.ended) {
      return;
    }
    if (error !== undefined) {
      this.write(error.toXml());
    }
    this.write(el('close', NS.framing).toXml());
    this.ended = true;
    this.socket.close(1000);
  }

  outboundBytes(): number {
    return this.socket.bufferedAmount;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private write(text: string): void {
    if (!this.ended && this.socket.readyState === this.socket.OPEN) {
      this.socket.send(text);
    }
  }
}

/** Takes over upgrades to WEBSOCKET_PATH; every other upgrade (socket.io's) is left alone. */
export function attachWebSocket(
  server: Server,
  gateway: XmppGateway,
  config: AppConfig,
): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.xmpp.maxStanzaBytes + 1024,
    handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH) {
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (ws.protocol !== 'xmpp') {
        // RFC 7395 section 3.2: the xmpp subprotocol is required.
        ws.close(1002, 'the xmpp subprotocol is required');

        return;
      }
      new WebSocketTransport(ws, request, gateway);
    });
  });

  return wss;
}
