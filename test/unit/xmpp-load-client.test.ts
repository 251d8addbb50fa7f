import { describe, expect, it } from 'vitest';

import { attrOf } from '../../bench/lib/xmpp-load-client.mjs';

describe("the load client's attribute reader", () => {
  it('reads an attribute of the start tag only, in either quotes, entity-decoded', () => {
    const stanza = `<message from='a@x/r' to="b@x" type='chat' id='1&amp;2'><body type='x'>hi</body></message>`;

    expect(attrOf(stanza, 'type')).toBe('chat');
    expect(attrOf(stanza, 'to')).toBe('b@x');
    expect(attrOf(stanza, 'id')).toBe('1&2');
    expect(attrOf(stanza, 'body')).toBeUndefined();
  });

  it('does not take an attribute whose name ends with the one asked for', () => {
    expect(attrOf(`<iq xtype='no' type='result'/>`, 'type')).toBe('result');
    expect(attrOf(`<iq xtype='no'/>`, 'type')).toBeUndefined();
  });
});
