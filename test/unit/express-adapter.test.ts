import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

import type { Express } from 'express';
import { describe, expect, it } from 'vitest';

import { RelayExpressAdapter } from '#src/common/express-adapter.js';

describe('the Express adapter', () => {
  it('creates requests and responses with the prototypes Express gives them', async () => {
    const adapter = new RelayExpressAdapter();
    adapter.initHttpServer({});
    const server = adapter.getHttpServer() as Server;
    const application = adapter.getInstance<Express>();
    const seen: boolean[] = [];
    server.prependListener('request', (request, response) => {
      seen.push(
        Object.getPrototypeOf(request) === application.request,
        Object.getPrototypeOf(response) === application.response,
      );
    });
    application.get('/', (request, response) => {
      response.status(201).json({ ip: request.ip, path: request.path });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await fetch(`http://127.0.0.1:${port}/?x=1`);
      expect(answer.status).toBe(201);
      expect(await answer.json()).toEqual({ ip: '127.0.0.1', path: '/' });
      expect(seen).toEqual([true, true]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
