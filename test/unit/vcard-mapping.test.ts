import { describe, expect, it } from 'vitest';

import { entityTime } from '#src/xmpp/handlers/entity-info.handlers.js';
import { profileOf, vCardOf } from '#src/xmpp/handlers/vcard.handler.js';
import { el } from '#src/xmpp/xml/element.js';

const V = 'vcard-temp';

describe('vCard-temp and profile mapping', () => {
  it('takes the mapped fields of a vCard, blank ones as cleared, a wrapped BINVAL whole', () => {
    const vcard = el(
      'vCard',
      V,
      {},
      el('FN', V, {}, '  Alice  '),
      el('NICKNAME', V, {}, ''),
      el('EMAIL', V, {}, el('HOME', V), el('INTERNET', V), el('USERID', V, {}, 'a@example.org')),
      el('ORG', V, {}, el('ORGNAME', V, {}, 'not kept')),
      el('PHOTO', V, {}, el('TYPE', V, {}, 'image/png'), el('BINVAL', V, {}, 'aGVs\r\n bG8=\n')),
    );

    expect(profileOf(vcard)).toEqual({
      full_name: 'Alice',
      nickname: null,
      email: 'a@example.org',
      url: null,
      birthday: null,
      note: null,
      avatar: { type: 'image/png', data: 'aGVsbG8=' },
    });
  });

  it('writes only the fields a profile has, and reads back what it wrote', () => {
    const profile = {
      jid: 'alice@example.test',
      full_name: 'Alice',
      nickname: null,
      email: 'a@example.org',
      url: 'https://example.org/',
      birthday: '1990-04-01',
      note: null,
      avatar: null,
      updated_at: 1,
    };
    const vcard = vCardOf(profile);

    expect(vcard.elements().map((child) => child.name)).toEqual(['FN', 'EMAIL', 'URL', 'BDAY']);
    expect(profileOf(vcard)).toEqual({
      full_name: 'Alice',
      nickname: null,
      email: 'a@example.org',
      url: 'https://example.org/',
      birthday: '1990-04-01',
      note: null,
      avatar: null,
    });
  });
});

describe('entity time (XEP-0202)', () => {
  it('gives UTC in whole seconds and an offset as XEP-0082 TZD', () => {
    const time = entityTime(new Date(Date.UTC(2026, 11, 4, 19, 5, 7, 891)));

    expect(time.childText('utc', 'urn:xmpp:time')).toBe('2026-12-04T19:05:07Z');
    expect(time.childText('tzo', 'urn:xmpp:time')).toMatch(/^[+-]\d{2}:\d{2}$/);
  });
});
