import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';

import {
  ADMIN_AUTH,
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp, TEST_REDIS_URL } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';

describe.skipIf(!servicesUp())(
  'two nodes sharing PostgreSQL and Redis behave as one server',
  () => {
    const domain = uniqueDomain();
    const shared = { REDIS_KEY_PREFIX: `test:cluster:${domain}:`, SESSION_TTL_SECONDS: '3' };
    let nodeA: TestServer;
    let nodeB: TestServer;
    let alice: TestUser;
    let bob: TestUser;

    beforeAll(async () => {
      nodeA = await startTestServer({ ...shared, NODE_ID: 'node-a' }, { domain });
      nodeB = await startTestServer({ ...shared, NODE_ID: 'node-b' }, { domain });
      alice = await registerUser(nodeA.url, domain, 'alice');
      bob = await registerUser(nodeB.url, domain, 'bob');
    });

    afterAll(async () => {
      await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    });

    it('delivers a message sent through node A to a socket on node B, and the sender’s copy back to A', async () => {
      const bobOnB = await connectSocket(nodeB.url, { token: await tokenFor(nodeA.url, bob) });
      const aliceOnA = await connectSocket(nodeA.url, { token: await tokenFor(nodeB.url, alice) });
      const received = new EventRecorder<{ id: string; body: string }>(bobOnB, 'message');
      const copies = new EventRecorder<{ id: string }>(aliceOnA, 'message:sent');

      const sent = await sendMessage(nodeA.url, alice.basic, bob.jid, 'across nodes');

      expect((await received.waitFor(1))[0]).toMatchObject({
        id: sent.body.id,
        body: 'across nodes',
      });
      expect((await copies.waitFor(1))[0]!.id).toBe(sent.body.id);
      const sessions = await http<{ node: string }[]>(
        nodeA.url,
        'GET',
        `/api/admin/sessions/${domain}/bob`,
        { auth: ADMIN_AUTH },
      );
      expect(sessions.body.map((session) => session.node)).toEqual(['node-b']);
      bobOnB.disconnect();
      aliceOnA.disconnect();
    });

    it('kicks a session held by the other node', async () => {
      const bobOnB = await connectSocket(nodeB.url, { token: await tokenFor(nodeB.url, bob) });
      const closed = new EventRecorder(bobOnB, 'session:closed');
      const [session] = (
        await http<{ id: string }[]>(nodeA.url, 'GET', `/api/admin/sessions/${domain}/bob`, {
          auth: ADMIN_AUTH,
        })
      ).body;

      expect(
        (
          await http(nodeA.url, 'DELETE', `/api/admin/sessions/${domain}/bob/${session!.id}`, {
            auth: ADMIN_AUTH,
          })
        ).status,
      ).toBe(204);

      await closed.waitFor(1);
    });

    it('revokes a password change on every node at once', async () => {
      const carol = await registerUser(nodeA.url, domain, 'carol');
      expect((await http(nodeB.url, 'GET', '/api/messages', { auth: carol.basic })).status).toBe(
        200,
      );

      await http(nodeA.url, 'PUT', `/api/admin/users/${domain}/carol`, {
        auth: ADMIN_AUTH,
        json: { password: 'a-new-password' },
      });

      // Node B had the old password cached; the change reaches it over the cluster bus.
      await expect
        .poll(
          async () => (await http(nodeB.url, 'GET', '/api/messages', { auth: carol.basic })).status,
          { timeout: 3000 },
        )
        .toBe(401);
    });

    it('forgets the sessions of a node that stops heartbeating within the session TTL', async () => {
      const ghostNode = 'node-ghost';
      const redis = new Redis(TEST_REDIS_URL);
      const prefix = shared.REDIS_KEY_PREFIX;
      const session = {
        id: 'ghost-session',
        jid: bob.jid,
        resource: 'gone',
        transport: 'socket.io',
        node: ghostNode,
        connectedAt: Date.now(),
      };
      // A node that died without cleaning up: its heartbeat is older than the TTL.
      await redis
        .multi()
        .zadd(`${prefix}nodes`, Date.now() - 10_000, ghostNode)
        .hset(`${prefix}sessions:${bob.jid}`, session.id, JSON.stringify(session))
        .hset(`${prefix}domain-sessions:${domain}`, session.id, bob.jid)
        .hset(`${prefix}session-index`, session.id, bob.jid)
        .sadd(`${prefix}node-sessions:${ghostNode}`, `${bob.jid} ${session.id}`)
        .exec();

      const listed = async () =>
        (
          await http<{ id: string }[]>(nodeA.url, 'GET', `/api/admin/sessions/${domain}/bob`, {
            auth: ADMIN_AUTH,
          })
        ).body;
      // Within one heartbeat interval (a third of the TTL) the session is gone from every listing and from Redis.
      await expect
        .poll(async () => (await listed()).map((entry) => entry.id), { timeout: 2500 })
        .not.toContain('ghost-session');
      await expect
        .poll(() => redis.hexists(`${prefix}sessions:${bob.jid}`, session.id), { timeout: 5000 })
        .toBe(0);
      expect(await redis.zscore(`${prefix}nodes`, ghostNode)).toBeNull();
      redis.disconnect();
    });
  },
);
