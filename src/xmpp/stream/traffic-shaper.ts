/** A stream as the shaper sees it. */
export interface Shaped {
  readonly closed: boolean;
  readonly transport: { pause(): void; resume(): void };
}

interface Bucket {
  tokens: number;
  at: number;
  /** Epoch ms when reading may resume; 0 while reading. */
  resumeAt: number;
}

const TICK_MS = 50;

/**
 * Per-session traffic shaping: a token bucket of `rate` bytes a second up
 * to `burst`. A stream that overdraws it stops being read until the bucket
 * has refilled; one shared timer resumes every paused stream, and it runs
 * only while some stream is paused.
 */
export class TrafficShaper {
  private readonly buckets = new WeakMap<Shaped, Bucket>();
  private readonly paused = new Set<Shaped>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  consume(stream: Shaped, bytes: number, now = Date.now()): void {
    if (this.rate === 0) {
      return;
    }
    let bucket = this.buckets.get(stream);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now, resumeAt: 0 };
      this.buckets.set(stream, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.rate) / 1000);
    bucket.at = now;
    bucket.tokens -= bytes;
    if (bucket.tokens < 0 && bucket.resumeAt === 0) {
      bucket.resumeAt = now + Math.ceil((-bucket.tokens * 1000) / this.rate);
      stream.transport.pause();
      this.paused.add(stream);
      this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
    }
  }

  /** Resumes a stream paused for another reason, unless the bucket still holds it. */
  resumeIfAllowed(stream: Shaped): void {
    if (!this.paused.has(stream)) {
      stream.transport.resume();
    }
  }

  isPaused(stream: Shaped): boolean {
    return this.paused.has(stream);
  }

  private tick(now = Date.now()): void {
    for (const stream of this.paused) {
      const bucket = this.buckets.get(stream);
      if (stream.closed || bucket === undefined) {
        this.paused.delete(stream);
      } else if (now >= bucket.resumeAt) {
        bucket.resumeAt = 0;
        this.paused.delete(stream);
        stream.transport.resume();
      }
    }
    if (this.paused.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.paused.clear();
  }
}
