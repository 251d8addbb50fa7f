import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AddressPolicy } from '#src/events/address-policy.js';
import { WebhookHttpClient, type HostResolver } from '#src/events/webhook-http-client.js';

/**
 * DNS rebinding: a name that resolved to a public address when the endpoint
 * was saved answers with a private one when the delivery connects. The
 * client checks the addresses at connect time, so nothing is sent. The
 * resolver is a stand-in (no query leaves this machine) that answers what
 * each test says; the only server is a local receiver that counts requests.
 */
describe('webhook client against DNS rebinding', () => {
  let receiver: Server;
  let port: number;
  let received = 0;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      received += 1;
      request.resume();
      response.end('ok');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  /** A resolver that answers `hooks.example.com` with the given addresses. */
  function resolverAnswering(...addresses: string[]): HostResolver {
    const resolve = (
      _hostname: string,
      _options: unknown,
      callback: (
        error: NodeJS.ErrnoException | null,
        list: { address: string; family: number }[],
      ) => void,
    ) => {
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    };

    return resolve as unknown as HostResolver;
  }

  const post = (client: WebhookHttpClient) =>
    client.post({
      url: `http://hooks.example.com:${port}/hook`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      timeoutMs: 2000,
      maxBodyBytes: 1024,
    });

  it('refuses to connect when the name now resolves to a private address, in any form', async () => {
    for (const answer of [
      ['127.0.0.1'],
      ['::ffff:127.0.0.1'],
      ['10.1.2.3'],
      ['169.254.169.254'],
      ['::1'],
    ]) {
      const client = new WebhookHttpClient(new AddressPolicy([]), resolverAnswering(...answer));
      const before = received;
      const result = await post(client);
      client.close();

      expect(result.status, answer.join()).toBeUndefined();
      expect(result.error, answer.join()).toMatch(/not allowed/);
      expect(received).toBe(before);
    }
  });

  it('refuses when any one of several addresses is private', async () => {
    const client = new WebhookHttpClient(
      new AddressPolicy([]),
      resolverAnswering('127.0.0.1', '::1'),
    );
    const result = await post(client);
    client.close();

    expect(result.error).toMatch(/not allowed/);
  });

  it('connects when the allow-list names the address the name resolves to', async () => {
    const client = new WebhookHttpClient(
      new AddressPolicy(['127.0.0.1']),
      resolverAnswering('127.0.0.1'),
    );
    const before = received;
    const result = await post(client);
    client.close();

    expect(result.status).toBe(200);
    expect(received).toBe(before + 1);
  });
});
