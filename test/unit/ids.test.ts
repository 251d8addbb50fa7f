import { describe, expect, it } from 'vitest';

import { isMessageId, lowestIdAt, MessageIdGenerator, timestampOf } from '#src/common/ids.js';

describe('time-ordered message ids (UUIDv7)', () => {
  it('are valid version 7 UUIDs carrying their millisecond', () => {
    const id = new MessageIdGenerator().next(1_764_860_000_123);

    expect(isMessageId(id)).toBe(true);
    expect(timestampOf(id)).toBe(1_764_860_000_123);
  });

  it('sort in the order they were minted, also within one millisecond and when the clock steps back', () => {
    const generator = new MessageIdGenerator();
    const times = [
      ...Array.from({ length: 5000 }, () => 1000),
      999,
      998,
      ...Array.from({ length: 10 }, (_, i) => 2000 + i),
    ];
    const ids = times.map((time) => generator.next(time));

    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lowestIdAt bounds every id of that millisecond from below and every earlier id from above', () => {
    const generator = new MessageIdGenerator();
    const before = generator.next(4999);
    const at = generator.next(5000);

    expect(lowestIdAt(5000) <= at).toBe(true);
    expect(before < lowestIdAt(5000)).toBe(true);
  });
});
