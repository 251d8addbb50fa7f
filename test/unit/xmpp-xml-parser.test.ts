import { describe, expect, it } from 'vitest';

import { el, XmlElement } from '#src/xmpp/xml/element.js';
import { IdleRelease } from '#src/xmpp/xml/idle-release.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { XmlStreamParser, type XmlStreamError } from '#src/xmpp/xml/stream-parser.js';

interface Recorded {
  root?: XmlElement;
  elements: XmlElement[];
  closed: boolean;
  error?: XmlStreamError;
}

function parserFor(maxStanzaBytes = 4096, syntheticRoot?: string) {
  const seen: Recorded = { elements: [], closed: false };
  const parser = new XmlStreamParser(
    {
      onOpen: (root) => (seen.root = root),
      onElement: (element) => seen.elements.push(element),
      onClose: () => (seen.closed = true),
      onError: (error) => (seen.error = error),
    },
    { maxStanzaBytes, ...(syntheticRoot === undefined ? {} : { syntheticRoot }) },
  );

  return { parser, seen };
}

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>";

function parse(input: string | Buffer, maxStanzaBytes?: number): Recorded {
  const { parser, seen } = parserFor(maxStanzaBytes);
  parser.write(input);

  return seen;
}

describe('XML stream parser', () => {
  it('reports the stream header, each stanza with namespaces resolved, and the stream end', () => {
    const seen = parse(
      `${HEADER}<message to='bob@example.org' type='chat'><body>hi &amp; &lt;bye&gt; &#x1F600;</body></message>` +
        `<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq></stream:stream>`,
    );

    expect(seen.error).toBeUndefined();
    expect(seen.root).toMatchObject({ name: 'stream', ns: NS.stream });
    expect(seen.root?.attrs).toMatchObject({ to: 'example.org', version: '1.0', xmlns: NS.client });
    expect(seen.elements).toHaveLength(2);
    const [message, iq] = seen.elements;
    expect(message).toMatchObject({ name: 'message', ns: NS.client });
    expect(message?.childText('body')).toBe('hi & <bye> 😀');
    expect(iq?.child('query')?.ns).toBe(NS.discoInfo);
    expect(seen.closed).toBe(true);
  });

  it('gives the same result however the input is split, down to single bytes', () => {
    const input = Buffer.from(
      `${HEADER}<message xml:lang='fr'><body>ça va? 日本語 😀 <![CDATA[<raw>]]> end</body></message></stream:stream>`,
    );
    const { parser, seen } = parserFor();
    for (let i = 0; i < input.length; i++) {
      parser.write(input.subarray(i, i + 1));
    }

    expect(seen.error).toBeUndefined();
    expect(seen.elements).toHaveLength(1);
    expect(seen.elements[0]?.attr('xml:lang')).toBe('fr');
    expect(seen.elements[0]?.childText('body')).toBe('ça va? 日本語 😀 <raw> end');
    expect(seen.closed).toBe(true);
  });

  it.each([
    ['a DOCTYPE', `<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY a 'b'>]>${HEADER.slice(21)}`],
    [
      'billion laughs',
      `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>&lol2;`,
    ],
    ['a DOCTYPE mid-stream', `${HEADER}<!DOCTYPE x>`],
    ['an entity declaration mid-stream', `${HEADER}<!ENTITY x 'y'>`],
    ['a processing instruction', `${HEADER}<?foo bar?>`],
    ['a comment', `${HEADER}<message><!-- hidden --></message>`],
    ['an undefined entity', `${HEADER}<message><body>&nbsp;</body></message>`],
    ['an external entity reference', `${HEADER}<message><body>&xxe;</body></message>`],
  ])('refuses %s with restricted-xml', (_name, input) => {
    const seen = parse(input);

    expect(seen.error?.condition).toBe('restricted-xml');
    expect(seen.elements).toHaveLength(0);
  });

  it.each([
    ['a mismatched end tag', `${HEADER}<message></iq>`],
    ['an unbound prefix', `${HEADER}<foo:bar/>`],
    ['an unquoted attribute', `${HEADER}<message to=bob/>`],
    ['a duplicate attribute', `${HEADER}<message to='a' to='b'/>`],
    ['a bare ampersand', `${HEADER}<message><body>a & b</body></message>`],
    ['a control character', `${HEADER}<message><body>\u0001</body></message>`],
    ['a lone less-than', `${HEADER}<message><body>a < b</body></message>`],
    ['an XML declaration mid-stream', `${HEADER}<?xml version='1.0'?>`],
    ['a second root', `${HEADER}</stream:stream><stream:stream>`],
    ['a bad character reference', `${HEADER}<message><body>&#0;</body></message>`],
    ['a tag name starting with a digit', `${HEADER}<1message/>`],
  ])('refuses %s with not-well-formed', (_name, input) => {
    const seen = parse(input);

    if (_name === 'a second root') {
      // The stream ended at the first close; what follows is never parsed.
      expect(seen.closed).toBe(true);

      return;
    }
    expect(seen.error?.condition).toBe('not-well-formed');
    // The text goes to the client in the stream error: no parser positions, no half-parsed stanza.
    expect(seen.error?.message).not.toMatch(/^\d+:\d+/);
    expect(seen.elements).toHaveLength(0);
  });

  it('refuses invalid UTF-8 with unsupported-encoding (RFC 6120 section 4.9.3.22), even split across writes', () => {
    const { parser, seen } = parserFor();
    parser.write(`${HEADER}<message><body>`);
    parser.write(Buffer.from([0xc3]));
    parser.write(Buffer.from([0x28]));

    expect(seen.error?.condition).toBe('unsupported-encoding');
  });

  it('refuses an encoding other than UTF-8', () => {
    const seen = parse(`<?xml version='1.0' encoding='UTF-16'?>${HEADER.slice(21)}`);

    expect(seen.error?.condition).toBe('unsupported-encoding');
  });

  it('accepts a stanza at the size limit and refuses one byte more with policy-violation', () => {
    const stanza = (bytes: number) => {
      const shell = '<message><body></body></message>';

      return `<message><body>${'x'.repeat(bytes - shell.length)}</body></message>`;
    };
    const ok = parse(`${HEADER}${stanza(1000)}`, 1000);
    expect(ok.error).toBeUndefined();
    expect(ok.elements).toHaveLength(1);

    const over = parse(`${HEADER}${stanza(1001)}`, 1000);
    expect(over.error?.condition).toBe('policy-violation');
    expect(over.elements).toHaveLength(0);
  });

  it('counts the limit in bytes, not characters', () => {
    const body = 'é'.repeat(400); // 800 bytes
    const seen = parse(`${HEADER}<message><body>${body}</body></message>`, 600);

    expect(seen.error?.condition).toBe('policy-violation');
  });

  it('stops an oversized stanza while it arrives, before the end of it is sent', () => {
    const { parser, seen } = parserFor(64 * 1024);
    parser.write(`${HEADER}<message><body>`);
    let writes = 0;
    while (parser.write('y'.repeat(4096)) && writes < 1000) {
      writes++;
    }

    expect(seen.error?.condition).toBe('policy-violation');
    expect(writes).toBeLessThanOrEqual(17);
  });

  it('bounds a gap between stanzas and an endless tag name too', () => {
    const gap = parserFor(1024);
    gap.parser.write(HEADER);
    gap.parser.write(`<${'a'.repeat(2000)}`);
    expect(gap.seen.error?.condition).toBe('policy-violation');

    const keepalives = parserFor(1024);
    keepalives.parser.write(HEADER);
    for (let i = 0; i < 5000; i++) {
      keepalives.parser.write(' ');
    }
    expect(keepalives.seen.error).toBeUndefined();
  });

  it('refuses nesting deeper than the bound', () => {
    const seen = parse(`${HEADER}<message>${'<a>'.repeat(40)}`);

    expect(seen.error?.condition).toBe('policy-violation');
  });

  it('parses frames under a synthetic root (RFC 7395) with its namespaces in scope', () => {
    const { parser, seen } = parserFor(
      4096,
      `<frames xmlns='${NS.client}' xmlns:stream='${NS.stream}'>`,
    );
    parser.write(`<open xmlns='${NS.framing}' to='example.org' version='1.0'/>`);
    parser.write('<message to="a@example.org"><body>x</body></message>');
    parser.write(`<close xmlns='${NS.framing}'/>`);

    expect(seen.root).toBeUndefined();
    expect(seen.elements.map((element) => `${element.ns} ${element.name}`)).toEqual([
      `${NS.framing} open`,
      `${NS.client} message`,
      `${NS.framing} close`,
    ]);
  });

  it('parses nothing more after an error', () => {
    const { parser, seen } = parserFor();
    parser.write(`${HEADER}<message><!-- x --></message>`);

    expect(parser.write('<message/>')).toBe(false);
    expect(seen.elements).toHaveLength(0);
  });

  it.each([
    ['an overlong form', [0xc0, 0xaf]],
    ['a surrogate', [0xed, 0xa0, 0x80]],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte', [0x80]],
  ])('refuses %s as unsupported-encoding, whole or one byte at a time', (_name, bytes) => {
    const whole = parserFor();
    whole.parser.write(`${HEADER}<message><body>`);
    whole.parser.write(Buffer.from(bytes));
    expect(whole.seen.error?.condition).toBe('unsupported-encoding');

    const split = parserFor();
    split.parser.write(`${HEADER}<message><body>`);
    for (const byte of [...bytes, 0x3c]) {
      split.parser.write(Buffer.from([byte]));
    }
    expect(split.seen.error?.condition).toBe('unsupported-encoding');
  });

  it('skips a byte order mark opening the stream', () => {
    const seen = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(HEADER)]));

    expect(seen.error).toBeUndefined();
    expect(seen.root?.name).toBe('stream');
  });
});

describe('XML stream parser between stanzas (released state)', () => {
  it('lets go of its state only between stanzas, and goes on mid-stream as before', () => {
    const { parser, seen } = parserFor();
    parser.write(`${HEADER}<message><body>one</body></message>\n`);
    expect(parser.holdsState).toBe(true);
    expect(parser.release()).toBe(true);
    expect(parser.holdsState).toBe(false);

    parser.write('<message><body>t');
    expect(parser.release()).toBe(false);
    expect(parser.holdsState).toBe(true);
    parser.write('wo</body></message>');
    parser.release();
    parser.write(
      `<stream:error><reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
    );
    parser.release();
    parser.write('</stream:stream>');

    expect(seen.error).toBeUndefined();
    expect(seen.elements.map((element) => `${element.ns} ${element.name}`)).toEqual([
      `${NS.client} message`,
      `${NS.client} message`,
      `${NS.stream} error`,
    ]);
    expect(seen.elements[1]?.childText('body')).toBe('two');
    expect(seen.closed).toBe(true);
  });

  it('keeps a UTF-8 sequence cut by a write across a release, down to single bytes', () => {
    const { parser, seen } = parserFor();
    parser.write(`${HEADER}<iq type='get' id='1'/>`);
    parser.release();
    const stanza = Buffer.from('<message><body>日本 😀 é</body></message>');
    const cut = stanza.indexOf(Buffer.from('日')) + 1;
    parser.write(stanza.subarray(0, cut));
    parser.write(stanza.subarray(cut));
    parser.release();
    for (const byte of stanza) {
      parser.write(Buffer.from([byte]));
      parser.release();
    }

    expect(seen.error).toBeUndefined();
    expect(seen.elements.map((element) => element.childText('body'))).toEqual([
      undefined,
      '日本 😀 é',
      '日本 😀 é',
    ]);
  });

  it.each([
    ['a comment', '<!-- x -->', 'restricted-xml'],
    ['a DOCTYPE', '<!DOCTYPE x>', 'restricted-xml'],
    ['an entity declaration', "<!ENTITY x 'y'>", 'restricted-xml'],
    ['a processing instruction', '<?foo bar?>', 'restricted-xml'],
    ['an undefined entity', '<message><body>&nbsp;</body></message>', 'restricted-xml'],
    ['a mismatched end tag', '<message></iq>', 'not-well-formed'],
    ['an unbound prefix', '<foo:bar/>', 'not-well-formed'],
    ['an end tag of another root', '</foo:stream>', 'not-well-formed'],
    ['an XML declaration', "<?xml version='1.0'?>", 'not-well-formed'],
    ['invalid UTF-8', Buffer.from([0xc3, 0x28]), 'unsupported-encoding'],
  ])('still refuses %s after a release', (_name, input, condition) => {
    const { parser, seen } = parserFor();
    parser.write(`${HEADER}<presence/>`);
    expect(parser.release()).toBe(true);
    parser.write(input);

    expect(seen.error?.condition).toBe(condition);
    // Nothing after the release is handed over, not even an element a wrong end tag "closes".
    expect(seen.elements.map((element) => element.name)).toEqual(['presence']);
  });

  it('still counts the size limit and the gap after a release', () => {
    const { parser, seen } = parserFor(1000);
    parser.write(`${HEADER}<presence/>`);
    parser.release();
    parser.write(`<message><body>${'x'.repeat(900)}`);
    parser.release();
    parser.write('x'.repeat(200));

    expect(seen.error?.condition).toBe('policy-violation');

    const gap = parserFor(1000);
    gap.parser.write(`${HEADER}<presence/>`);
    gap.parser.release();
    gap.parser.write(`<${'a'.repeat(600)}`);
    gap.parser.write('a'.repeat(600));
    expect(gap.seen.error?.condition).toBe('policy-violation');
  });

  it('replays the root as the client spelt it: its prefix and namespaces', () => {
    const { parser, seen } = parserFor();
    parser.write(
      `<foo:stream xmlns:foo='${NS.stream}' xmlns='${NS.client}' xmlns:x='urn:example:x' to='example.org' version='1.0'><x:ping/>`,
    );
    parser.release();
    parser.write('<x:ping/><message/>');
    parser.release();
    parser.write('</foo:stream>');

    expect(seen.error).toBeUndefined();
    expect(seen.elements.map((element) => `${element.ns} ${element.name}`)).toEqual([
      'urn:example:x ping',
      'urn:example:x ping',
      `${NS.client} message`,
    ]);
    expect(seen.closed).toBe(true);
  });

  it('releases and rebuilds frames under a synthetic root (RFC 7395)', () => {
    const { parser, seen } = parserFor(
      4096,
      `<frames xmlns='${NS.client}' xmlns:stream='${NS.stream}'>`,
    );
    parser.write(`<open xmlns='${NS.framing}' to='example.org' version='1.0'/>`);
    expect(parser.release()).toBe(true);
    parser.write('<message to="a@example.org"><body>x</body></message>');
    parser.release();
    parser.write('<stream:error/>');

    expect(seen.error).toBeUndefined();
    expect(seen.root).toBeUndefined();
    expect(seen.elements.map((element) => `${element.ns} ${element.name}`)).toEqual([
      `${NS.framing} open`,
      `${NS.client} message`,
      `${NS.stream} error`,
    ]);
  });

  it('is released by the shared timer after a tick without input, and rebuilt by the next', () => {
    const idleRelease = new IdleRelease(60_000);
    const seen: XmlElement[] = [];
    const parser = new XmlStreamParser(
      {
        onOpen: () => undefined,
        onElement: (element) => seen.push(element),
        onClose: () => undefined,
        onError: (error) => {
          throw error;
        },
      },
      { maxStanzaBytes: 4096, idleRelease },
    );
    try {
      parser.write(`${HEADER}<presence/>`);
      expect(idleRelease.size).toBe(1);
      idleRelease.tick();
      expect(parser.holdsState).toBe(true);
      idleRelease.tick();
      expect(parser.holdsState).toBe(false);
      expect(idleRelease.size).toBe(0);

      parser.write('<message><body>');
      idleRelease.tick();
      idleRelease.tick();
      expect(parser.holdsState).toBe(true);
      parser.write('hi</body></message>');
      idleRelease.tick();
      idleRelease.tick();
      expect(parser.holdsState).toBe(false);
      expect(seen.map((element) => element.name)).toEqual(['presence', 'message']);
    } finally {
      idleRelease.close();
    }
  });
});

describe('XML serializer', () => {
  it('escapes text and attributes and leaves out inherited namespaces', () => {
    const message = el(
      'message',
      NS.client,
      { to: `a'b"<c>&`, type: undefined },
      el('body', NS.client, {}, 'x < y & z > ]]>'),
      el('stanza-id', NS.stanzaId, { id: '1' }),
    );

    expect(message.toXml(NS.client)).toBe(
      `<message to="a&apos;b&quot;&lt;c&gt;&amp;"><body>x &lt; y &amp; z &gt; ]]&gt;</body>` +
        `<stanza-id xmlns="urn:xmpp:sid:0" id="1"/></message>`,
    );
  });

  it('round-trips through the parser', () => {
    const original = el(
      'message',
      NS.client,
      { to: 'a\tb\nc\r' },
      el('body', NS.client, {}, 'line\r\nnext & <more>'),
    );
    const seen = parse(`${HEADER}${original.toXml(NS.client)}`);

    expect(seen.elements[0]?.attr('to')).toBe('a\tb\nc\r');
    expect(seen.elements[0]?.childText('body')).toBe('line\r\nnext & <more>');
  });
});
