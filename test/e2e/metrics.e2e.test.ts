import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MessageView } from '#src/messaging/message-view.js';
import {
  connectSocket,
  EventRecorder,
  http,
  registerUser,
  sendMessage,
  tokenFor,
  type TestUser,
} from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

/** The samples of a Prometheus text exposition, as `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line !== '' && !line.startsWith('#')) {
      const space = line.lastIndexOf(' ');
      values.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
  }

  return values;
}

describe.skipIf(!servicesUp())('Prometheus metrics', () => {
  let server: TestServer;
  let dana: TestUser;
  let eli: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    dana = await registerUser(server.url, server.domain, 'dana');
    eli = await registerUser(server.url, server.domain, 'eli');
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function scrape(): Promise<Map<string, number>> {
    const response = await http<string>(server.url, 'GET', '/metrics');
    expect(response.status).toBe(200);

    return samples(response.body);
  }

  it('count what a send did: the request, the commit, the message accepted and delivered, the session online', async () => {
    const socket = await connectSocket(server.url, { token: await tokenFor(server.url, eli) });
    const received = new EventRecorder<MessageView>(socket, 'message');
    const before = await scrape();
    const at = (values: Map<string, number>, name: string) => values.get(name) ?? 0;

    const sent = await sendMessage(server.url, dana.basic, eli.jid, 'counted');
    expect(sent.status).toBe(200);
    await received.waitFor(1);
    const after = await scrape();

    const grew = (name: string) => at(after, name) - at(before, name);
    expect(
      grew(
        'relay_http_request_duration_seconds_count{method="POST",route="/api/messages",status="200"}',
      ),
    ).toBe(1);
    expect(grew('relay_messages_accepted_total{source="client"}')).toBe(1);
    expect(grew('relay_deliveries_total{transport="socket.io",event="message"}')).toBe(1);
    expect(grew('relay_archive_commit_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(grew('relay_archive_batch_size_count')).toBe(grew('relay_archive_commit_seconds_count'));
    expect(at(after, 'relay_sessions_online{transport="socket.io"}')).toBe(1);
    expect(after.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);

    socket.disconnect();
  });
});
