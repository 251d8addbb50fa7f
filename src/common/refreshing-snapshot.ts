/**
 * A value read from the database and kept for `ttlMs`, for what nearly
 * every request asks and rarely changes (the served domains, the webhook
 * endpoints). Past half its life it is read again in the background, once
 * however often it is asked meanwhile, and serves until it expires: only a
 * value unused for a whole time to live is waited for. A read that began
 * before `invalidate` is not kept.
 */
export class RefreshingSnapshot<T> {
  private cache?: { readonly at: number; readonly value: T };
  /** The read in progress, shared by everyone asking meanwhile. */
  private reading?: Promise<T>;
  /** Counts invalidations, so a read that began before one is not kept as fresh. */
  private generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    /** A background read failed; the value serves until it expires and the next use tries again. */
    private readonly onRefreshError: (error: unknown) => void,
  ) {}

  /** The value while fresh, without a promise; undefined when it must be read. */
  fresh(): T | undefined {
    const cache = this.cache;
    const age = cache === undefined ? Infinity : Date.now() - cache.at;
    if (cache === undefined || age > this.ttlMs) {
      return undefined;
    }
    if (age >= this.ttlMs / 2 && this.reading === undefined) {
      this.shared().catch(this.onRefreshError);
    }

    return cache.value;
  }

  /** The value, read when it is not fresh. */
  async get(): Promise<T> {
    return this.fresh() ?? (await this.shared());
  }

  /** A read of its own with another loader (one bound to a transaction's connection), kept as the others are. */
  readWith(load: () => Promise<T>): Promise<T> {
    return this.read(load);
  }

  invalidate(): void {
    this.generation += 1;
    this.cache = undefined;
    this.reading = undefined;
  }

  private shared(): Promise<T> {
    if (this.reading === undefined) {
      const reading: Promise<T> = this.read(this.load).finally(() => {
        if (this.reading === reading) {
          this.reading = undefined;
        }
      });
      this.reading = reading;
    }

    return this.reading;
  }

  private async read(load: () => Promise<T>): Promise<T> {
    const generation = this.generation;
    const at = Date.now();
    const value = await load();
    if (generation === this.generation) {
      this.cache = { at, value };
    }

    return value;
  }
}
