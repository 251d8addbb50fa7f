import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

import type { AddressPolicy } from '#src/events/address-policy.js';

const MAX_AGENTS = 1000;

export interface WebhookResponse {
  readonly status?: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The start of the answer, at most the configured number of bytes. */
  readonly body: string;
  readonly error?: string;
  readonly durationMs: number;
}

export interface WebhookRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

/** What posting to one URL needs, worked out once per URL. */
interface Target {
  readonly transport: typeof http | typeof https;
  readonly options: http.RequestOptions;
  /** Set when the URL names an address the policy refuses. */
  readonly refused?: string;
}

/** Resolves a host name to all its addresses, as `dns.lookup` with `all: true` does. */
export type HostResolver = typeof dnsLookup;

/**
 * Posts one delivery. Redirects are not followed; the host's addresses are
 * checked against the policy when the connection is made (not only when
 * the endpoint was saved), so a name that later resolves to a private
 * address (DNS rebinding) is refused; only a bounded part of the answer is read.
 */
export class WebhookHttpClient {
  /** Kept-alive connections per origin; each new connection checks its addresses again. */
  private readonly agents = new Map<string, http.Agent>();
  private readonly targets = new Map<string, Target>();

  constructor(
    private readonly policy: AddressPolicy,
    private readonly resolve: HostResolver = dnsLookup,
  ) {}

  close(): void {
    this.agents.forEach((agent) => agent.destroy());
    this.agents.clear();
    this.targets.clear();
  }

  post(request: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = this.targetOf(request.url);
    if (target.refused !== undefined) {
      return Promise.resolve({
        headers: {},
        body: '',
        error: `address ${target.refused} is not allowed`,
        durationMs: elapsed(),
      });
    }

    return new Promise((resolve) => {
      let settled = false;
      const finish = (response: Omit<WebhookResponse, 'durationMs'>) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve({ ...response, durationMs: elapsed() });
        }
      };
      const outgoing = target.transport.request(
        {
          ...target.options,
          headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          incoming.on('data', (chunk: Buffer) => {
            if (kept < request.maxBodyBytes) {
              chunks.push(chunk.subarray(0, request.maxBodyBytes - kept));
              kept += Math.min(chunk.length, request.maxBodyBytes - kept);
            }
            if (kept >= request.maxBodyBytes) {
              // Enough of the answer is kept; the rest is not read.
              incoming.destroy();
            }
          });
          const done = () =>
            finish({
              status: incoming.statusCode,
              headers: incoming.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          incoming.on('end', done);
          incoming.on('close', done);
          incoming.on('error', done);
        },
      );
      // The whole exchange, connecting included, within the timeout.
      const timer = setTimeout(() => {
        finish({ headers: {}, body: '', error: `timed out after ${request.timeoutMs} ms` });
        outgoing.destroy();
      }, request.timeoutMs);
      outgoing.on('error', (error: Error) =>
        finish({ headers: {}, body: '', error: error.message }),
      );
      outgoing.end(request.body);
    });
  }

  private targetOf(url: string): Target {
    let target = this.targets.get(url);
    if (target === undefined) {
      if (this.targets.size >= MAX_AGENTS) {
        this.targets.delete(this.targets.keys().next().value!);
      }
      target = this.parse(new URL(url));
      this.targets.set(url, target);
    }

    return target;
  }

  private parse(url: URL): Target {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const transport = url.protocol === 'https:' ? https : http;
    const options: http.RequestOptions = {
      protocol: url.protocol,
      hostname: host,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: this.agentFor(url, host),
    };
    // An address in the URL is checked here; a name, at each new connection.
    if (isIP(host) !== 0 && !this.policy.permits(host)) {
      return { transport, options, refused: host };
    }

    return { transport, options };
  }

  private agentFor(url: URL, host: string): http.Agent {
    const origin = `${url.protocol}//${url.host}`;
    let agent = this.agents.get(origin);
    if (agent === undefined) {
      if (this.agents.size >= MAX_AGENTS) {
        const [oldest, stale] = this.agents.entries().next().value!;
        stale.destroy();
        this.agents.delete(oldest);
        // Targets of the dropped agent would keep using it: they are worked out again.
        this.targets.clear();
      }
      const options = {
        keepAlive: true,
        maxSockets: 64,
        timeout: 60_000,
        lookup: this.safeLookup(host),
      };
      agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(origin, agent);
    }

    return agent;
  }

  private safeLookup(host: string): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error !== null) {
          callback(error, '', 4);

          return;
        }
        const refused = addresses.find((address) => !this.policy.permits(address.address, host));
        if (refused !== undefined) {
          callback(
            Object.assign(
              new Error(`${hostname} resolves to ${refused.address}, which is not allowed`),
              { code: 'EADDRNOTALLOWED' },
            ),
            '',
            4,
          );

          return;
        }
        if (options.all === true) {
          callback(null, addresses);
        } else {
          callback(null, addresses[0]!.address, addresses[0]!.family);
        }
      });
    };
  }
}
