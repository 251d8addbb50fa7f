import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

import { describe, expect, it } from 'vitest';

import { ADMIN_AUTH, connectSocket, http, registerUser, sendMessage } from '#test/helpers/api.js';
import { servicesUp, TEST_DATABASE_URL, TEST_REDIS_URL } from '#test/helpers/services.js';
import { ADMIN_PASSWORD, uniqueDomain } from '#test/helpers/test-server.js';

const MAIN = new URL('../../dist/src/main.js', import.meta.url);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe.skipIf(!servicesUp())('graceful shutdown on SIGTERM', () => {
  it('finishes accepted requests, closes sockets with a reason, and exits 0', async () => {
    expect(existsSync(MAIN), 'the build (npm run build) must exist; `npm test` builds first').toBe(
      true,
    );
    const port = await freePort();
    const domain = uniqueDomain();
    const child = spawn(process.execPath, [MAIN.pathname], {
      env: {
        ...process.env,
        HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        // Free ports: runs side by side must not collide on 5222/5223.
        XMPP_C2S_PORT: '0',
        XMPP_C2S_TLS_PORT: '0',
        DATABASE_URL: TEST_DATABASE_URL,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: `test:${domain}:`,
        XMPP_DOMAINS: domain,
        ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const url = `http://127.0.0.1:${port}`;
    await expect
      .poll(
        () =>
          http(url, 'GET', '/health').then(
            (result) => result.status,
            () => 0,
          ),
        { timeout: 20_000, interval: 200 },
      )
      .toBe(200);
    const [alice, bob] = [
      await registerUser(url, domain, 'alice'),
      await registerUser(url, domain, 'bob'),
    ];
    const socket = await connectSocket(url, { jid: bob.jid, password: bob.password });
    const closedReason = new Promise((resolve) => socket.on('session:closed', resolve));

    // Ten senders keep sending until the server stops answering; SIGTERM lands in the middle.
    const accepted: string[] = [];
    let firstAccepted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (firstAccepted = resolve));
    const sender = async (worker: number) => {
      for (let i = 0; ; i += 1) {
        const result = await sendMessage(
          url,
          alice.basic,
          bob.jid,
          `in flight ${worker}.${i}`,
        ).catch(() => undefined);
        if (result?.status !== 200) {
          return;
        }
        accepted.push(result.body.id);
        firstAccepted();
      }
    };
    const senders = Promise.all(Array.from({ length: 10 }, (_, worker) => sender(worker)));
    await started;
    child.kill('SIGTERM');
    await senders;

    expect(await exited).toBe(0);
    expect(await closedReason).toEqual({ reason: 'server shutting down' });
    expect(accepted.length).toBeGreaterThan(0);

    // Every message the server said it accepted is in the archive.
    const { startTestServer } = await import('#test/helpers/test-server.js');
    const after = await startTestServer({}, { domain });
    try {
      const stored = new Set<string>();
      for (let cursor = '00000000-0000-7000-8000-000000000000'; ;) {
        const page = await http<{ id: string }[]>(
          after.url,
          'GET',
          `/api/admin/messages/${bob.jid}?limit=500&after_id=${cursor}`,
          { auth: ADMIN_AUTH },
        );
        if (page.body.length === 0) {
          break;
        }
        page.body.forEach((message) => stored.add(message.id));
        cursor = page.body.at(-1)!.id;
      }
      expect(accepted.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await after.stop();
    }
  });
});
