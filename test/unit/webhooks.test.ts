import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';

import { AddressPolicy, checkWebhookUrl, embeddedIpv4 } from '#src/events/address-policy.js';
import { matchesPattern, unknownPatterns, wants } from '#src/events/endpoint-filter.js';
import { parseDuration, parseRetryAfter, RetrySchedule } from '#src/events/retry-schedule.js';
import { generateSecret, signatureHeader } from '#src/events/webhook-signature.js';

describe('webhook signatures (Standard Webhooks)', () => {
  it('are accepted by the standardwebhooks receiver library, with either secret during a rotation', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const body = JSON.stringify({ id: 'evt_1', type: 'message.created', data: { body: 'hé' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader([newSecret, oldSecret], 'evt_1', timestamp, body),
    };

    expect(new Webhook(oldSecret).verify(body, headers)).toMatchObject({ id: 'evt_1' });
    expect(new Webhook(newSecret).verify(body, headers)).toMatchObject({ id: 'evt_1' });
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(newSecret).verify(`${body} `, headers)).toThrow();
  });

  it('generates secrets of whsec_ and at least 24 random bytes', () => {
    const secret = generateSecret();

    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(generateSecret()).not.toBe(secret);
  });
});

describe('event filters', () => {
  it('match exact types, families and everything', () => {
    expect(matchesPattern('message.*', 'message.created')).toBe(true);
    expect(matchesPattern('message.*', 'messages.created')).toBe(false);
    expect(matchesPattern('room.*', 'message.created')).toBe(false);
    expect(matchesPattern('*', 'user.deleted')).toBe(true);
    expect(
      wants({ events: ['message.*'], domains: ['a.example'] }, 'message.created', 'b.example'),
    ).toBe(false);
    expect(wants({ events: ['message.*'], domains: [] }, 'message.created', 'b.example')).toBe(
      true,
    );
  });

  it('name the patterns that match no known event', () => {
    expect(unknownPatterns(['message.*', 'mesage.created', 'user.deleted', 'nothing.*'])).toEqual([
      'mesage.created',
      'nothing.*',
    ]);
  });
});

describe('retry schedule', () => {
  const schedule = RetrySchedule.parse('0,5s,5m,30m,2h,5h,10h,10h');

  it('follows the schedule with jitter and ends after the last attempt', () => {
    expect(schedule.attempts).toBe(8);
    expect(schedule.delayAfter(1, undefined, () => 0.5)).toBe(5000);
    expect(schedule.delayAfter(2, undefined, () => 1)).toBe(330_000);
    expect(schedule.delayAfter(2, undefined, () => 0)).toBe(270_000);
    expect(schedule.delayAfter(8)).toBeUndefined();
  });

  it('honours Retry-After within bounds', () => {
    expect(schedule.delayAfter(1, 120_000)).toBe(120_000);
    expect(schedule.delayAfter(1, 0)).toBe(1000);
    expect(schedule.delayAfter(1, 7 * 86_400_000)).toBe(86_400_000);
    expect(parseRetryAfter('30')).toBe(30_000);
    expect(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(55_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('parses durations and refuses nonsense', () => {
    expect(['0', '250ms', '5s', '5m', '2h', '1d'].map(parseDuration)).toEqual([
      0, 250, 5000, 300_000, 7_200_000, 86_400_000,
    ]);
    expect(() => parseDuration('five')).toThrow();
  });
});

describe('webhook address policy', () => {
  const policy = new AddressPolicy([]);

  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.5',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::',
  ])('refuses %s', (address) => {
    expect(policy.permits(address)).toBe(false);
  });

  it.each(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:93.184.216.34'])(
    'allows public %s',
    (address) => {
      expect(policy.permits(address)).toBe(true);
    },
  );

  it('allows what the allow-list names: addresses, ranges and hosts', () => {
    const allowing = new AddressPolicy(['127.0.0.1', '10.1.0.0/16', 'hooks.internal']);

    expect(allowing.permits('127.0.0.1')).toBe(true);
    expect(allowing.permits('::ffff:127.0.0.1')).toBe(true);
    expect(allowing.permits('10.1.2.3')).toBe(true);
    expect(allowing.permits('10.2.0.1')).toBe(false);
    expect(allowing.permits('192.168.0.10', 'hooks.internal')).toBe(true);
  });

  it('reads IPv4 addresses embedded in IPv6 forms', () => {
    expect(embeddedIpv4('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(embeddedIpv4('64:ff9b::7f00:1')).toBe('127.0.0.1');
    expect(embeddedIpv4('2001:db8::1')).toBeUndefined();
  });

  it('refuses URLs with credentials, control characters or other schemes, and plain http when https is required', () => {
    expect(checkWebhookUrl('https://user:pw@example.com/hook', false)).toMatchObject({
      problem: expect.stringContaining('credentials'),
    });
    expect(checkWebhookUrl('https://example.com/\u0000hook', false)).toHaveProperty('problem');
    expect(checkWebhookUrl('ftp://example.com/hook', false)).toHaveProperty('problem');
    expect(checkWebhookUrl('file:///etc/passwd', false)).toHaveProperty('problem');
    expect(checkWebhookUrl('http://example.com/hook', true)).toHaveProperty('problem');
    expect(checkWebhookUrl('https://example.com/hook', true)).toHaveProperty('url');
    // The URL parser turns encoded IPv4 forms into the dotted address before the policy sees them.
    const encoded = checkWebhookUrl('http://0x7f.1/', false) as { url: URL };
    expect(encoded.url.hostname).toBe('127.0.0.1');
    expect((checkWebhookUrl('http://2130706433/', false) as { url: URL }).url.hostname).toBe(
      '127.0.0.1',
    );
  });
});
