import { randomBytes } from 'node:crypto';

/**
 * Time-ordered identifiers (UUIDv7, RFC 9562 section 5.7).
 *
 * Within one millisecond the 12-bit `rand_a` field and the top of `rand_b`
 * act as a counter (RFC 9562 section 6.2, method 1), so ids minted by one
 * process sort in the order they were made. An id is therefore also a cursor.
 */
export class MessageIdGenerator {
  private lastMs = 0;
  private counter = 0;
  /** Random bytes fetched in bulk: one system call per 512 ids instead of one per id. */
  private pool = Buffer.alloc(0);
  private offset = 0;

  next(now: number = Date.now()): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = this.random(2).readUInt16BE(0) & 0x07ff;
    } else {
      // Clock went back or same millisecond: keep ordering by counting on.
      this.counter += 1;
      if (this.counter > 0xffff) {
        this.lastMs += 1;
        this.counter = 0;
      }
    }

    return formatUuidV7(this.lastMs, this.counter, this.random(8));
  }

  private random(size: number): Buffer {
    if (this.offset + size > this.pool.length) {
      this.pool = randomBytes(4096);
      this.offset = 0;
    }
    const bytes = this.pool.subarray(this.offset, this.offset + size);
    this.offset += size;

    return bytes;
  }
}

function formatUuidV7(ms: number, counter: number, random: Buffer): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(ms, 0, 6);
  // version 7 in the high nibble, 12 high bits of the counter after it
  bytes.writeUInt16BE(0x7000 | (counter >> 4), 6);
  // variant 0b10, 4 low bits of the counter, then random
  bytes[8] = 0x80 | ((counter & 0x0f) << 2) | (random[0]! & 0x03);
  random.copy(bytes, 9, 1, 8);

  return toUuidString(bytes);
}

function toUuidString(bytes: Buffer): string {
  const hex = bytes.toString('hex');

  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isMessageId(value: string): boolean {
  return UUID_V7.test(value);
}

/** The millisecond timestamp embedded in a UUIDv7. */
export function timestampOf(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The smallest UUIDv7 of a millisecond: every id minted at or after `ms` sorts at or above it. */
export function lowestIdAt(ms: number): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(Math.max(0, Math.min(ms, 0xffffffffffff)), 0, 6);

  return toUuidString(bytes);
}

export const messageIds = new MessageIdGenerator();
