import { describe, expect, it } from 'vitest';

import { failureDelayMs } from '#src/auth/login-throttle.service.js';
import { TtlCache } from '#src/common/ttl-cache.js';

describe('TtlCache', () => {
  it('forgets entries after their time and drops every entry of a tag at once', () => {
    const cache = new TtlCache<number>(10);
    cache.set('a', 1, 1000, 'alice');
    cache.set('b', 2, 1000, 'alice');
    cache.set('c', 3, 1000, 'bob');

    expect(cache.get('a', Date.now() + 2000)).toBeUndefined();
    cache.deleteTag('alice');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe(3);
  });

  it('stays within its bound, evicting the oldest entry', () => {
    const cache = new TtlCache<number>(3);
    for (const key of ['1', '2', '3', '4']) {
      cache.set(key, Number(key), 60_000);
    }

    expect(cache.size).toBe(3);
    expect(cache.get('1')).toBeUndefined();
    expect(cache.get('4')).toBe(4);
  });
});

describe('failed login delay', () => {
  it('does not delay the first failure, then doubles up to two seconds', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(failureDelayMs)).toEqual([0, 100, 200, 400, 800, 1600, 2000]);
  });
});
