/**
 * When to try a failed delivery again. The schedule lists the delay before
 * each attempt, the first being the initial one (usually 0); jitter spreads
 * retries of a burst so a recovering receiver is not hit all at once.
 */
export class RetrySchedule {
  constructor(
    readonly delaysMs: readonly number[],
    private readonly jitter = 0.1,
  ) {
    if (delaysMs.length === 0) {
      throw new Error('a retry schedule needs at least one attempt');
    }
  }

  static parse(text: string): RetrySchedule {
    return new RetrySchedule(text.split(',').map((part) => parseDuration(part.trim())));
  }

  get attempts(): number {
    return this.delaysMs.length;
  }

  /**
   * Milliseconds to wait before attempt `attempt + 1` (attempts count from
   * 1), or undefined when the schedule is spent. A `Retry-After` from the
   * receiver replaces the scheduled delay, within [1 s, 24 h].
   */
  delayAfter(
    attempt: number,
    retryAfterMs?: number,
    random: () => number = Math.random,
  ): number | undefined {
    const scheduled = this.delaysMs[attempt];
    if (scheduled === undefined) {
      return undefined;
    }
    if (retryAfterMs !== undefined) {
      return Math.min(Math.max(retryAfterMs, 1000), 24 * 3600 * 1000);
    }

    return Math.round(scheduled * (1 + this.jitter * (2 * random() - 1)));
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `0`, `250ms`, `5s`, `5m`, `2h`, `1d`. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text);
  if (match === null) {
    throw new Error(`not a duration: ${JSON.stringify(text)} (use 0, 500ms, 5s, 5m, 2h or 1d)`);
  }

  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110 section 10.2.3), in milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  if (/^\d+$/.test(value.trim())) {
    return Number(value.trim()) * 1000;
  }
  const date = Date.parse(value);

  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
