import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';

import { describe, expect, it } from 'vitest';

import type { XmppStream } from '#src/xmpp/stream/xmpp-stream.js';
import type { TlsCredentials } from '#src/xmpp/transports/tls-credentials.js';
import { TcpTransport } from '#src/xmpp/transports/tcp.transport.js';
import { el } from '#src/xmpp/xml/element.js';
import { IdleRelease } from '#src/xmpp/xml/idle-release.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import type { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

/** A transport over a socket that records its writes, with a stream that does nothing. */
function recordingTransport(): { transport: TcpTransport; writes: string[] } {
  const writes: string[] = [];
  const socket = {
    remoteAddress: '127.0.0.1',
    destroyed: false,
    writable: true,
    writableLength: 0,
    setNoDelay: () => socket,
    on: () => socket,
    write: (text: string) => writes.push(text) > 0,
  };
  const gateway = {
    config: { xmpp: { maxStanzaBytes: 65_536 } },
    parserRelease: new IdleRelease(100),
    open: () => ({}) as XmppStream,
  };
  const transport = new TcpTransport(
    socket as unknown as Socket,
    gateway as unknown as XmppGateway,
    {} as TlsCredentials,
    {} as SecureContext,
  );

  return { transport, writes };
}

describe('the TCP transport', () => {
  it('sends what one event produced in one write, before the event loop reads on', async () => {
    const { transport, writes } = recordingTransport();
    const seenByNextPhase: number[] = [];
    // Queued first: with the write left to the check phase, this would run before it.
    setImmediate(() => seenByNextPhase.push(writes.length));
    // Two deliveries from the promise jobs of one event (an archive commit settling).
    await Promise.resolve();
    transport.send(el('message', NS.client, { id: '1' }));
    await Promise.resolve();
    transport.send(el('message', NS.client, { id: '2' }));
    await new Promise((resolve) => setImmediate(resolve));

    expect(writes).toEqual(['<message id="1"/><message id="2"/>']);
    expect(seenByNextPhase).toEqual([1]);
  });
});
