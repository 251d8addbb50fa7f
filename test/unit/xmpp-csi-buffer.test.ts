import { describe, expect, it } from 'vitest';

import { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { CSI_MAX_HELD } from '#src/xmpp/session/csi-buffer.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

function session(): { session: XmppSession; sent: string[] } {
  const sent: string[] = [];
  const stream = {
    send: (element: XmlElement) => sent.push(element.toXml()),
    fail: () => undefined,
    pipeline: (work: Promise<void>) => work,
  };
  const user = { id: 'u1', jid: 'erin@example.test', credentialVersion: 1 };
  const s = new XmppSession(stream, 's1', user, 'phone', 'node-1', '127.0.0.1');
  s.presence = { show: 'online' };

  return { session: s, sent };
}

const presence = (from: string, status: string) =>
  el('presence', NS.client, { from }, el('status', NS.client, {}, status));
const state = (from: string, name: string) =>
  el('message', NS.client, { from, type: 'chat' }, el(name, NS.chatStates));
const message = (from: string, body: string) =>
  el('message', NS.client, { from, type: 'chat' }, el('body', NS.client, {}, body));
const summary = (xml: string) =>
  /<status>([^<]*)/.exec(xml)?.[1] ??
  /<body>([^<]*)/.exec(xml)?.[1] ??
  /<(composing|paused|displayed)/.exec(xml)?.[1] ??
  /^<(\w+)/.exec(xml)![1]!;

describe('client state indication (XEP-0352) in XmppSession', () => {
  it('sends everything at once while active', () => {
    const { session: s, sent } = session();
    s.send(presence('frank@example.test/app', 'here'));
    s.send(state('frank@example.test/app', 'composing'));
    expect(sent.map(summary)).toEqual(['here', 'composing']);
  });

  it('holds presence and chat states while inactive, newest per contact, and flushes them in order', () => {
    const { session: s, sent } = session();
    s.setActive(false);
    s.send(presence('frank@example.test/app', 'one'));
    s.send(presence('gina@example.test/desk', 'gina'));
    s.send(presence('frank@example.test/app', 'two'));
    s.send(state('gina@example.test/desk', 'composing'));
    s.send(
      el(
        'message',
        NS.client,
        { from: 'gina@example.test' },
        el('displayed', NS.chatMarkers, { id: 'x' }),
      ),
    );
    s.send(el('iq', NS.client, { type: 'result', id: 'ping' }));
    s.send(el('presence', NS.client, { from: 'hank@example.test', type: 'subscribe' }));
    expect(sent.map(summary)).toEqual(['iq', 'presence']);
    sent.length = 0;

    s.setActive(true);
    expect(sent.map(summary)).toEqual(['gina', 'two', 'composing', 'displayed']);
    sent.length = 0;
    s.send(presence('frank@example.test/app', 'three'));
    expect(sent.map(summary)).toEqual(['three']);
  });

  it('never holds a message with a body, and drops the sender’s held chat state it overtakes', () => {
    const { session: s, sent } = session();
    s.setActive(false);
    s.send(state('gina@example.test/desk', 'composing'));
    s.send(state('frank@example.test/app', 'composing'));
    s.send(message('gina@example.test/desk', 'hello'));
    const carbon = el(
      'message',
      NS.client,
      { from: 'erin@example.test' },
      el(
        'sent',
        NS.carbons,
        {},
        el('forwarded', NS.forward, {}, message('erin@example.test', 'mine')),
      ),
    );
    s.send(carbon);
    expect(sent.map(summary)).toEqual(['hello', 'mine']);
    sent.length = 0;
    s.setActive(true);
    expect(sent.map(summary)).toEqual(['composing']);
    expect(sent[0]).toContain('frank@example.test');
  });

  it('sends what it holds once it holds more than its bound', () => {
    const { session: s, sent } = session();
    s.setActive(false);
    for (let i = 0; i <= CSI_MAX_HELD; i += 1) {
      s.send(presence(`user${i}@example.test/r`, `status ${i}`));
    }
    expect(sent).toHaveLength(CSI_MAX_HELD + 1);
    expect(summary(sent[0]!)).toBe('status 0');
    sent.length = 0;
    s.send(presence('late@example.test/r', 'late'));
    expect(sent).toEqual([]);
  });
});
