import net from 'node:net';
import tls from 'node:tls';

import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { WebSocketServer } from 'ws';

import { AppConfig } from '#src/config/app-config.js';
import { BOSH_PATH, BoshManager } from '#src/xmpp/transports/bosh.transport.js';
import { TcpTransport } from '#src/xmpp/transports/tcp.transport.js';
import { attachWebSocket } from '#src/xmpp/transports/websocket.transport.js';
import { loadTlsCredentials, type TlsCredentials } from '#src/xmpp/transports/tls-credentials.js';
import { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/**
 * The client-to-server listeners: STARTTLS on XMPP_C2S_PORT, direct TLS on
 * XMPP_C2S_TLS_PORT, and WebSocket and BOSH on the HTTP server.
 */
@Injectable()
export class XmppListeners implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('XmppListeners');
  readonly credentials: TlsCredentials;
  readonly secureContext: tls.SecureContext;
  private plain?: net.Server;
  private direct?: tls.Server;
  private websocket?: WebSocketServer;
  /** The ports listened on, once listening (0 in the config picks a free one). */
  ports = { c2s: 0, c2sTls: 0 };

  constructor(
    private readonly config: AppConfig,
    private readonly gateway: XmppGateway,
    private readonly http: HttpAdapterHost,
  ) {
    this.credentials = loadTlsCredentials(config);
    this.secureContext = tls.createSecureContext({
      cert: this.credentials.cert,
      key: this.credentials.key,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const host = this.config.http.host;
    const httpServer = this.http.httpAdapter?.getHttpServer() as Server | undefined;
    if (httpServer !== undefined) {
      this.websocket = attachWebSocket(httpServer, this.gateway, this.config);
      attachBosh(httpServer, new BoshManager(this.gateway));
    }
    this.plain = net.createServer((socket) => {
      new TcpTransport(socket, this.gateway, this.credentials, this.secureContext);
    });
    this.direct = tls.createServer(
      { cert: this.credentials.cert, key: this.credentials.key, ALPNProtocols: ['xmpp-client'] },
      (socket) => {
        new TcpTransport(socket, this.gateway, this.credentials, this.secureContext);
      },
    );
    // A failed handshake on the direct-TLS port concerns that connection only.
    this.direct.on('tlsClientError', (error) =>
      this.logger.debug({ err: error }, 'TLS handshake failed'),
    );
    this.ports = {
      c2s: await listen(this.plain, this.config.xmpp.c2sPort, host),
      c2sTls: await listen(this.direct, this.config.xmpp.c2sTlsPort, host),
    };
    this.logger.log(
      { ports: this.ports, generatedCertificate: this.credentials.generated },
      `XMPP c2s on ${this.ports.c2s} (STARTTLS${this.config.xmpp.requireTls ? ' required' : ''}) and ${this.ports.c2sTls} (direct TLS)`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    // Every stream is told and closed first: a server closes only once its connections have.
    this.gateway.closeAll();
    this.websocket?.close();
    await Promise.all([close(this.plain), close(this.direct)]);
  }
}

function listen(server: net.Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function close(server: net.Server | undefined): Promise<void> {
  return new Promise((resolve) =>
    server === undefined ? resolve() : server.close(() => resolve()),
  );
}

/** Requests to BOSH_PATH go to BOSH ahead of the HTTP application; every other one is left alone. */
function attachBosh(server: Server, bosh: BoshManager): void {
  const application = server.listeners('request') as ((...args: unknown[]) => void)[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if ((request.url ?? '').split('?')[0] === BOSH_PATH) {
      bosh.handle(request, response);

      return;
    }
    application.forEach((listener) => listener.call(server, request, response));
  });
}
