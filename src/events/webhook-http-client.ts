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
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

/**
 * Posts one delivery. Redirects are not followed; the host's addresses are
 * checked against the policy when the connection is made (not only when
 * the endpoint was saved), so a name that later resolves to a private
 * address (DNS rebinding) is refused; only a bounded part of the answer is read.
 */
export class WebhookHttpClient {
  /** Kept-alive connections per origin; each new connection checks its addresses again. */
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly policy: AddressPolicy) {}

  close(): void {
    this.agents.forEach((agent) => agent.destroy());
    this.agents.clear();
  }

  private agentFor(url: URL, host: string): http.Agent {
    const origin = `${url.protocol}//${url.host}`;
    let agent = this.agents.get(origin);
    if (agent === undefined) {
      if (this.agents.size >= MAX_AGENTS) {
        const [oldest, stale] = this.agents.entries().next().value!;
        stale.destroy();
        this.agents.delete(oldest);
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

  post(request: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const host = request.url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0 && !this.policy.permits(host)) {
      return Promise.resolve({
        headers: {},
        body: '',
        error: `address ${host} is not allowed`,
        durationMs: elapsed(),
      });
    }
    const transport = request.url.protocol === 'https:' ? https : http;

    return new Promise((resolve) => {
      let settled = false;
      const finish = (response: Omit<WebhookResponse, 'durationMs'>) => {
        if (!settled) {
          settled = true;
          resolve({ ...response, durationMs: elapsed() });
        }
      };
      const outgoing = transport.request(
        request.url,
        {
          method: 'POST',
          headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
          signal: AbortSignal.timeout(request.timeoutMs),
          agent: this.agentFor(request.url, host),
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
      outgoing.on('error', (error: Error) => {
        const reason =
          error.name === 'TimeoutError' || error.name === 'AbortError'
            ? `timed out after ${request.timeoutMs} ms`
            : error.message;
        finish({ headers: {}, body: '', error: reason });
      });
      outgoing.end(request.body);
    });
  }

  private safeLookup(host: string): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
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
