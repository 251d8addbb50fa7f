/**
 * A bounded map whose entries expire, with an optional tag per entry so that
 * every entry about one subject (a user's JID) can be dropped at once.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number; tag?: string }>();
  private readonly tags = new Map<string, Set<string>>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.delete(key);

      return undefined;
    }

    return entry.value;
  }

  set(key: string, value: V, ttlMs: number, tag?: string): void {
    if (ttlMs <= 0) {
      return;
    }
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      // Evict the oldest insertion; Map iterates in insertion order.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.delete(oldest);
      }
    }
    this.delete(key);
    this.entries.set(key, {
      value,
      expiresAt: Date.now() + ttlMs,
      ...(tag === undefined ? {} : { tag }),
    });
    if (tag !== undefined) {
      let keys = this.tags.get(tag);
      if (keys === undefined) {
        keys = new Set();
        this.tags.set(tag, keys);
      }
      keys.add(key);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      return;
    }
    this.entries.delete(key);
    if (entry.tag !== undefined) {
      const keys = this.tags.get(entry.tag);
      keys?.delete(key);
      if (keys?.size === 0) {
        this.tags.delete(entry.tag);
      }
    }
  }

  deleteTag(tag: string): void {
    for (const key of [...(this.tags.get(tag) ?? [])]) {
      this.delete(key);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
