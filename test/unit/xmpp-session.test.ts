import { describe, expect, it } from 'vitest';

import { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';

function session(): { session: XmppSession; sent: string[] } {
  const sent: string[] = [];
  const stream = {
    send: (element: XmlElement) => sent.push(element.toXml()),
    fail: () => undefined,
    pipeline: (work: Promise<void>) => work,
  };
  const user = { id: 'u1', jid: 'erin@example.test', credentialVersion: 1 };

  return { session: new XmppSession(stream, 's1', user, 'laptop', 'node-1', '127.0.0.1'), sent };
}

const frank = (
  resources: { resource: string; show: 'online' | 'away' | 'dnd' | 'xa'; status?: string }[],
) => ({
  jid: 'frank@example.test',
  show: resources[0]?.show ?? ('offline' as const),
  resources,
});

describe('XmppSession presence rendering (RFC 6121 section 4)', () => {
  it('renders nothing before initial presence', () => {
    const { session: s, sent } = session();
    s.renderPresence(frank([{ resource: 'app', show: 'online' }]));
    expect(sent).toEqual([]);
  });

  it('sends one stanza per changed resource and unavailable for a resource that went', () => {
    const { session: s, sent } = session();
    s.presence = { show: 'online' };
    s.renderPresence(
      frank([
        { resource: 'app', show: 'online' },
        { resource: 'phone', show: 'away', status: 'out' },
      ]),
    );
    expect(sent).toEqual([
      '<presence xmlns="jabber:client" from="frank@example.test/app" to="erin@example.test/laptop"/>',
      '<presence xmlns="jabber:client" from="frank@example.test/phone" to="erin@example.test/laptop"><show>away</show><status>out</status></presence>',
    ]);
    sent.length = 0;

    // The same again is not repeated; a change and a departure are.
    s.renderPresence(frank([{ resource: 'app', show: 'dnd' }]));
    expect(sent).toEqual([
      '<presence xmlns="jabber:client" from="frank@example.test/app" to="erin@example.test/laptop"><show>dnd</show></presence>',
      '<presence xmlns="jabber:client" from="frank@example.test/phone" to="erin@example.test/laptop" type="unavailable"/>',
    ]);
    sent.length = 0;
    s.renderPresence(frank([{ resource: 'app', show: 'dnd' }]));
    expect(sent).toEqual([]);

    s.renderPresence(frank([]));
    expect(sent).toEqual([
      '<presence xmlns="jabber:client" from="frank@example.test/app" to="erin@example.test/laptop" type="unavailable"/>',
    ]);
  });

  it('takes messages to the bare JID only while available with a non-negative priority', () => {
    const { session: s, sent } = session();
    const view = {
      id: 'm1',
      from: 'frank@example.test',
      to: 'erin@example.test',
      body: 'hi',
      timestamp: 0,
    } as never;
    s.deliver({ event: 'message', data: view });
    s.presence = { show: 'online', priority: -1 };
    s.deliver({ event: 'message', data: view });
    expect(sent).toEqual([]);
    s.presence = { show: 'online' };
    s.deliver({ event: 'message', data: view });
    expect(sent).toHaveLength(1);
  });
});
