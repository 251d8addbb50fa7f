import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ADMIN_AUTH,
  basic,
  connectSocket,
  http,
  registerUser,
  sendMessage,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

describe.skipIf(!servicesUp())('authentication and authorization', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  let victim: TestUser;

  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_SECONDS: '60' });
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
    eve = await registerUser(server.url, server.domain, 'eve');
    victim = await registerUser(server.url, server.domain, 'victim');
  });

  afterAll(async () => {
    await server?.stop();
  });

  const bearer = (token: string) => `Bearer ${token}`;

  it('issues tokens for Basic credentials, refreshes them once, and revokes them', async () => {
    const issued = await http<Tokens>(server.url, 'POST', '/api/tokens', { auth: alice.basic });
    expect(issued.status).toBe(200);
    expect(issued.body).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires_in: 3600,
    });
    expect(
      (await http(server.url, 'GET', '/api/messages', { auth: bearer(issued.body.access_token) }))
        .status,
    ).toBe(200);

    const refreshed = await http<Tokens>(server.url, 'POST', '/api/tokens/refresh', {
      json: { refresh_token: issued.body.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.access_token).not.toBe(issued.body.access_token);
    expect(
      (await http(server.url, 'GET', '/api/messages', { auth: bearer(issued.body.access_token) }))
        .status,
    ).toBe(401);
    expect(
      (
        await http(server.url, 'GET', '/api/messages', {
          auth: bearer(refreshed.body.access_token),
        })
      ).status,
    ).toBe(200);

    // A refresh token used twice has been copied: every token of the user goes.
    const replay = await http(server.url, 'POST', '/api/tokens/refresh', {
      json: { refresh_token: issued.body.refresh_token },
    });
    expect(replay.status).toBe(401);
    expect(
      (
        await http(server.url, 'GET', '/api/messages', {
          auth: bearer(refreshed.body.access_token),
        })
      ).status,
    ).toBe(401);

    const fresh = await http<Tokens>(server.url, 'POST', '/api/tokens', { auth: alice.basic });
    expect(
      (
        await http(server.url, 'POST', '/api/tokens/revoke', {
          json: { token: fresh.body.access_token },
        })
      ).status,
    ).toBe(204);
    const revoked = await http(server.url, 'GET', '/api/messages', {
      auth: bearer(fresh.body.access_token),
    });
    expect(revoked.status).toBe(401);
    expect(revoked.body).toMatchObject({ type: '/problems/invalid-token' });
  });

  it('splits Basic credentials at the first colon, so passwords may contain colons (RFC 7617)', async () => {
    const colons = await registerUser(server.url, server.domain, 'colons', 'pw:with:colons');

    expect((await http(server.url, 'GET', '/api/messages', { auth: colons.basic })).status).toBe(
      200,
    );
    const truncated = basic(colons.jid, 'pw');
    expect((await http(server.url, 'GET', '/api/messages', { auth: truncated })).status).toBe(401);
  });

  it('takes only Basic credentials at the token endpoint', async () => {
    const issued = await http<Tokens>(server.url, 'POST', '/api/tokens', { auth: bob.basic });
    const withToken = await http(server.url, 'POST', '/api/tokens', {
      auth: bearer(issued.body.access_token),
    });

    expect(withToken.status).toBe(401);
  });

  it('never opens the admin API with user credentials or tokens', async () => {
    const issued = await http<Tokens>(server.url, 'POST', '/api/tokens', { auth: bob.basic });
    for (const auth of [
      bob.basic,
      bearer(issued.body.access_token),
      basic('admin', bob.password),
      undefined,
    ]) {
      const result = await http(
        server.url,
        'GET',
        `/api/admin/users/${server.domain}`,
        ...(auth === undefined ? [] : [{ auth }]),
      );
      expect(result.status).toBe(401);
    }
    expect(
      (await http(server.url, 'GET', `/api/admin/users/${server.domain}`, { auth: ADMIN_AUTH }))
        .status,
    ).toBe(200);
  });

  it('keeps each pair’s conversation to that pair, through every route', async () => {
    await sendMessage(server.url, alice.basic, bob.jid, 'private to bob');

    const eveWithAlice = await http<unknown[]>(server.url, 'GET', `/api/messages/${alice.jid}`, {
      auth: eve.basic,
    });
    const eveWithBob = await http<unknown[]>(server.url, 'GET', `/api/messages/${bob.jid}`, {
      auth: eve.basic,
    });
    const eveAll = await http<unknown[]>(server.url, 'GET', '/api/messages', { auth: eve.basic });
    expect([eveWithAlice.body, eveWithBob.body, eveAll.body]).toEqual([[], [], []]);
    // The admin archive route is not reachable with a user's credentials.
    expect(
      (await http(server.url, 'GET', `/api/admin/messages/${bob.jid}`, { auth: eve.basic })).status,
    ).toBe(401);
    const sse = await fetch(`${server.url}/api/sse`, {
      headers: { authorization: basic(bob.jid, 'wrong-password') },
    });
    expect(sse.status).toBe(401);
  });

  it('refuses a socket.io handshake without valid credentials', async () => {
    await expect(connectSocket(server.url, { token: 'at_forged' })).rejects.toMatchObject({
      data: { type: '/problems/invalid-token' },
    });
    await expect(connectSocket(server.url, {})).rejects.toMatchObject({
      data: { type: '/problems/unauthorized' },
    });
    const socket = await connectSocket(server.url, { jid: bob.jid, password: bob.password });
    socket.disconnect();
  });

  it('slows down, then refuses repeated failures from one address with 429 and Retry-After', async () => {
    const wrong = basic(victim.jid, 'not-the-password');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      statuses.push((await http(server.url, 'GET', '/api/messages', { auth: wrong })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const refused = await http(server.url, 'GET', '/api/messages', { auth: victim.basic });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // Without TRUST_PROXY a forwarded header is not believed: still the same address.
    const elsewhere = await http(server.url, 'GET', '/api/messages', {
      auth: victim.basic,
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(elsewhere.status).toBe(429);
  });
});

describe.skipIf(!servicesUp())('lockout is per address', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: '2', TRUST_PROXY: 'true' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('does not lock the real user out from an address that has not failed', async () => {
    const user = await registerUser(server.url, server.domain, 'target');
    const attacker = { 'x-forwarded-for': '198.51.100.1' };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await http(server.url, 'GET', '/api/messages', {
        auth: basic(user.jid, 'guess-guess'),
        headers: attacker,
      });
    }

    expect(
      (await http(server.url, 'GET', '/api/messages', { auth: user.basic, headers: attacker }))
        .status,
    ).toBe(429);
    expect(
      (
        await http(server.url, 'GET', '/api/messages', {
          auth: user.basic,
          headers: { 'x-forwarded-for': '198.51.100.2' },
        })
      ).status,
    ).toBe(200);
  });
});
