import { describe, expect, it } from 'vitest';

import { isXmlSafe } from '#src/common/xml-text.js';

describe('text XML 1.0 can carry', () => {
  it('accepts tab, newline, return, all of Unicode outside the forbidden ranges, and astral characters', () => {
    expect(
      isXmlSafe('line one\nline two\r\n\tindented — ünïcödé 🙂 \ud83d\ude00 \ue000 \ufffd'),
    ).toBe(true);
  });

  it.each([
    ['NUL', '\u0000'],
    ['bell', '\u0007'],
    ['escape', '\u001b'],
    ['vertical tab', '\u000b'],
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', '\udc00'],
    ['U+FFFE', '\ufffe'],
    ['U+FFFF', '\uffff'],
  ])('refuses %s', (_name, character) => {
    expect(isXmlSafe(`before ${character} after`)).toBe(false);
  });
});
