import { describe, expect, it } from 'vitest';

import { formatJid, JidError, normalizeUserJid, parseJid } from '#src/common/jid.js';

describe('JID parsing and normalization (RFC 7622)', () => {
  it('splits local, domain and resource, and folds the case of local and domain only', () => {
    expect(parseJid('Juliet@Example.COM/Balcony')).toEqual({
      local: 'juliet',
      domain: 'example.com',
      resource: 'Balcony',
    });
    expect(parseJid('example.com')).toEqual({ local: '', domain: 'example.com' });
    expect(formatJid(parseJid('Romeo@Montague.LIT/orchard/with/slashes'))).toBe(
      'romeo@montague.lit/orchard/with/slashes',
    );
  });

  it('normalizes Unicode (NFC) and IDN domains', () => {
    expect(normalizeUserJid('Ju\u0301liet@example.com')).toBe('júliet@example.com');
    expect(normalizeUserJid('user@BÜCHER.example')).toBe('user@xn--bcher-kva.example');
    expect(normalizeUserJid('user@example.com.')).toBe('user@example.com');
  });

  it.each([
    ['', 'empty'],
    ['@example.com', 'empty localpart'],
    ['user@', 'empty domainpart'],
    ['us er@example.com', 'forbidden character in localpart'],
    ['us"er@example.com', 'forbidden character in localpart'],
    ["o'brien@example.com", 'forbidden character in localpart'],
    ['a<b@example.com', 'forbidden character in localpart'],
    ['user@exa mple.com', 'forbidden character in domainpart'],
    ['bell\u0007@example.com', 'forbidden character in localpart'],
    ['user@example.com/', 'empty resourcepart'],
    ['user@bad..domain', 'domainpart is not a valid domain name'],
    ['user@-bad-', 'domainpart is not a valid domain name'],
    ['user@evil;drop', 'domainpart is not a valid domain name'],
    ['b\u200bob@example.com', 'forbidden character in localpart'],
    ['\u202eboj@example.com', 'forbidden character in localpart'],
    ['soft\u00adhyphen@example.com', 'forbidden character in localpart'],
    [`user@${'a'.repeat(64)}.example`, 'domainpart is not a valid domain name'],
    [`${'a'.repeat(1024)}@example.com`, 'localpart longer than 1023 bytes'],
    [`${'é'.repeat(512)}@example.com`, 'localpart longer than 1023 bytes'],
  ])('refuses %j (%s)', (input, reason) => {
    expect(() => parseJid(input)).toThrow(JidError);
    try {
      parseJid(input);
    } catch (error: unknown) {
      expect((error as JidError).reason).toBe(reason);
    }
  });

  it('maps fullwidth letters to their ordinary forms, so look-alikes are the same user', () => {
    expect(normalizeUserJid('\uff42\uff4f\uff42@example.com')).toBe('bob@example.com');
    expect(normalizeUserJid('\uff22\uff2f\uff22@example.com')).toBe('bob@example.com');
  });

  it('accepts a localpart of exactly 1023 bytes', () => {
    expect(normalizeUserJid(`${'a'.repeat(1023)}@example.com`)).toHaveLength(1023 + 12);
  });

  it('requires a user address to have a localpart and no resource', () => {
    expect(() => normalizeUserJid('example.com')).toThrow('needs a localpart');
    expect(() => normalizeUserJid('user@example.com/phone')).toThrow('has no resource');
  });

  it('is idempotent: a normalized JID normalizes to itself', () => {
    for (const input of ['Alice@Example.org', 'ß@straße.example', 'ÅNGSTRÖM@example.com']) {
      const once = normalizeUserJid(input);
      expect(normalizeUserJid(once)).toBe(once);
    }
  });

  it('answers a repeated spelling as the first time, and refuses a bad one every time', () => {
    for (let i = 0; i < 3; i++) {
      expect(normalizeUserJid('Romeo@Example.COM')).toBe('romeo@example.com');
      expect(normalizeUserJid(`${'B'.repeat(300)}@example.com`)).toBe(
        `${'b'.repeat(300)}@example.com`,
      );
      expect(() => normalizeUserJid('romeo@exa mple.com')).toThrow(JidError);
    }
  });
});
