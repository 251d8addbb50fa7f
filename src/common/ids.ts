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
  /** Random bytes fetched in bulk, with their hex: one system call per 512 ids instead of one per id. */
  private pool = Buffer.alloc(0);
  private poolHex = '';
  private offset = 0;
  /** The hex of `lastMs`, 12 digits: the same for every id of one millisecond. */
  private msHex = '';

  next(now: number = Date.now()): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.msHex = now.toString(16).padStart(12, '0');
      this.counter = this.randomByte() * 8 + (this.randomByte() & 0x07);
    } else {
      // Clock went back or same millisecond: keep ordering by counting on.
      this.counter += 1;
      if (this.counter > 0xffff) {
        this.lastMs += 1;
        this.msHex = this.lastMs.toString(16).padStart(12, '0');
        this.counter = 0;
      }
    }

    return this.format();
  }

  /**
   * RFC 9562 section 5.7, written as hex directly: the 48-bit millisecond;
   * version 7 and the 12 high bits of the counter; the variant, the 4 low
   * bits of the counter and 2 random bits; 56 random bits.
   */
  private format(): string {
    const at = this.take(8);
    const variant = 0x80 | ((this.counter & 0x0f) << 2) | (this.pool[at]! & 0x03);
    const random = this.poolHex.slice(2 * at + 2, 2 * at + 16);

    return (
      `${this.msHex.slice(0, 8)}-${this.msHex.slice(8)}-` +
      `7${(this.counter >> 4).toString(16).padStart(3, '0')}-` +
      `${variant.toString(16)}${random.slice(0, 2)}-${random.slice(2)}`
    );
  }

  private randomByte(): number {
    const at = this.take(1);

    return this.pool[at]!;
  }

  /** The offset of `size` fresh random bytes in the pool. */
  private take(size: number): number {
    if (this.offset + size > this.pool.length) {
      this.pool = randomBytes(4096);
      this.poolHex = this.pool.toString('hex');
      this.offset = 0;
    }
    const at = this.offset;
    this.offset += size;

    return at;
  }
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
