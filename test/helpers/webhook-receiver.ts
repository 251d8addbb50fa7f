import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMode =
  | 'ok'
  | 'fail'
  | 'gone'
  | 'throttle'
  | 'hang'
  | 'reset'
  | 'redirect'
  /** 500 on the first attempt of an event whose body contains FAIL-ONCE, 200 otherwise. */
  | 'fail-once-marked';

export interface ReceivedDelivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/**
 * A real HTTP receiver on loopback that answers as it is told. Each test's
 * endpoint sends an `x-endpoint` header (one of the endpoint's extra
 * headers), so tests read and steer only their own deliveries.
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  readonly modes = new Map<string, ReceiverMode>();
  private readonly server: Server;
  private waiters: { tag: string; count: number; resolve: () => void }[] = [];
  private readonly failedOnce = new Set<string>();

  private constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const tag = String(request.headers['x-endpoint']);
        this.received.push({
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        this.waiters = this.waiters.filter((waiter) =>
          this.of(waiter.tag).length >= waiter.count ? (waiter.resolve(), false) : true,
        );
        let mode = this.modes.get(tag) ?? 'ok';
        if (mode === 'fail-once-marked') {
          const id = `${tag}/${String(request.headers['webhook-id'])}`;
          const marked = this.received.at(-1)!.body.includes('FAIL-ONCE');
          mode = marked && !this.failedOnce.has(id) ? 'fail' : 'ok';
          this.failedOnce.add(id);
        }
        switch (mode) {
          case 'ok':
            response.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
            break;
          case 'fail':
            response.writeHead(500).end('x'.repeat(10_000));
            break;
          case 'gone':
            response.writeHead(410).end();
            break;
          case 'throttle':
            response.writeHead(429, { 'retry-after': '1' }).end();
            break;
          case 'redirect':
            response.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
            break;
          case 'reset':
            request.socket.destroy();
            break;
          case 'hang':
            break;
        }
      });
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));

    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** The deliveries that reached the endpoint tagged `tag`. */
  of(tag: string): ReceivedDelivery[] {
    return this.received.filter((delivery) => delivery.headers['x-endpoint'] === tag);
  }

  events(tag: string): {
    id: string;
    type: string;
    domain: string;
    version: number;
    data: Record<string, unknown>;
    conversation?: { id: string; sequence: number };
  }[] {
    return this.of(tag).map((delivery) => JSON.parse(delivery.body));
  }

  waitFor(tag: string, count: number, timeoutMs = 8000): Promise<ReceivedDelivery[]> {
    if (this.of(tag).length >= count) {
      return Promise.resolve(this.of(tag));
    }

    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`expected ${count} deliveries to ${tag}, got ${this.of(tag).length}`)),
        timeoutMs,
      );
      this.waiters.push({
        tag,
        count,
        resolve: () => (clearTimeout(timer), resolve(this.of(tag))),
      });
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
