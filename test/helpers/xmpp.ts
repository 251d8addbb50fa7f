import net from 'node:net';
import tls from 'node:tls';

import { client, xml, type Client } from '@xmpp/client';

import { XmppListeners } from '#src/xmpp/transports/xmpp-listeners.service.js';

import type { TestUser } from './api.js';
import type { TestServer } from './test-server.js';

// Test servers present a generated self-signed certificate; xmpp.js has no option to trust one.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

export function xmppPorts(server: TestServer): { c2s: number; c2sTls: number } {
  return server.app.get(XmppListeners).ports;
}

type Element = ReturnType<typeof xml>;

/** An xmpp.js client logged in as `user`, with its incoming stanzas recorded. */
export interface TestXmppClient {
  readonly xmpp: Client;
  readonly jid: string;
  readonly stanzas: Element[];
  waitFor(match: (stanza: Element) => boolean, timeoutMs?: number): Promise<Element>;
  stop(): Promise<void>;
}

export async function connectXmpp(
  server: TestServer,
  user: TestUser,
  options: { service?: string; resource?: string } = {},
): Promise<TestXmppClient> {
  const [username] = user.jid.split('@');
  const xmpp = client({
    service: options.service ?? `xmpp://127.0.0.1:${xmppPorts(server).c2s}`,
    domain: server.domain,
    username,
    password: user.password,
    ...(options.resource === undefined ? {} : { resource: options.resource }),
    // xmpp.js waits 2 s for each stream to open; a loaded CI machine can take longer.
    timeout: 10_000,
  });
  xmpp.reconnect.stop();
  const stanzas: Element[] = [];
  const waiters: { match: (stanza: Element) => boolean; resolve: (stanza: Element) => void }[] = [];
  xmpp.on('stanza', (stanza: Element) => {
    stanzas.push(stanza);
    for (const waiter of [...waiters]) {
      if (waiter.match(stanza)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(stanza);
      }
    }
  });
  xmpp.on('error', () => undefined);
  const address = await withTimeout(xmpp.start(), 10_000, 'xmpp login');

  return {
    xmpp,
    jid: address.toString(),
    stanzas,
    waitFor: (match, timeoutMs = 5000) => {
      const seen = stanzas.find(match);
      if (seen !== undefined) {
        return Promise.resolve(seen);
      }

      return withTimeout(
        new Promise<Element>((resolve) => waiters.push({ match, resolve })),
        timeoutMs,
        'stanza',
      );
    },
    stop: async () => {
      await xmpp.stop().catch(() => undefined);
    },
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** A raw connection that collects what the server writes, for the negative tests. */
export class RawXmpp {
  private received = '';
  private closedFlag = false;
  private readonly listeners: (() => void)[] = [];

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  static connect(port: number): Promise<RawXmpp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawXmpp(socket)));
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('utf8');
      this.listeners.forEach((listener) => listener());
    });
    socket.on('close', () => {
      this.closedFlag = true;
      this.listeners.forEach((listener) => listener());
    });
    socket.on('error', () => undefined);
  }

  get text(): string {
    return this.received;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Waits until what was received matches, or the connection closed (then resolves too). */
  waitFor(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return withTimeout(
      new Promise<string>((resolve) => {
        const check = () => {
          if (pattern.test(this.received) || this.closedFlag) {
            resolve(this.received);

            return true;
          }

          return false;
        };
        if (!check()) {
          this.listeners.push(() => void check());
        }
      }),
      timeoutMs,
      `waiting for ${pattern}`,
    );
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => {
        if (this.closedFlag) {
          resolve();
        } else {
          this.listeners.push(() => this.closedFlag && resolve());
        }
      }),
      timeoutMs,
      'close',
    );
  }

  /** STARTTLS from here on: the TLS socket replaces the plain one. */
  async upgrade(servername: string): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, servername, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.received = '';
    this.attach(secure);
  }

  reset(): void {
    this.received = '';
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Bodies of the messages in what a raw connection received, in order. */
export function bodies(text: string): string[] {
  return [...text.matchAll(/<body>([^<]*)<\/body>/g)].map((match) => match[1]!);
}

export function streamHeader(domain: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;
}

/**
 * Opens a stream on `connection`, logs `user` in with SASL PLAIN and opens
 * the restarted stream (RFC 6120 section 6.4.6); its features have been read
 * and the connection's text is reset after the login.
 */
export async function plainLogin(
  connection: RawXmpp,
  domain: string,
  user: TestUser,
): Promise<void> {
  connection.send(streamHeader(domain));
  await connection.waitFor(/<\/stream:features>/);
  const [local] = user.jid.split('@');
  const plain = Buffer.from(`\0${local}\0${user.password}`).toString('base64');
  connection.send(
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`,
  );
  await connection.waitFor(/<success/);
  connection.reset();
  connection.send(streamHeader(domain));
  await connection.waitFor(/<\/stream:features>/);
}
