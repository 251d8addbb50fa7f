import { Counter, type Registry } from 'prom-client';

/**
 * A Prometheus counter for the hot paths, by one or two labels: plain
 * numbers in nested maps, copied into the prom-client counter when it is
 * scraped. prom-client's labelled `inc` builds and hashes a label string on
 * every call, which cost more than the rest of a delivery's bookkeeping.
 */
export class TallyCounter {
  private readonly tallies = new Map<string, Map<string, number>>();

  constructor(options: {
    readonly name: string;
    readonly help: string;
    readonly labelNames: readonly [string] | readonly [string, string];
    readonly registry: Registry;
  }) {
    const [first, second] = options.labelNames;
    const counter: Counter = new Counter({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames,
      registers: [options.registry],
      collect: () => {
        counter.reset();
        for (const [a, byB] of this.tallies) {
          for (const [b, count] of byB) {
            counter.inc(second === undefined ? { [first]: a } : { [first]: a, [second]: b }, count);
          }
        }
      },
    });
  }

  /** One more for these label values (`b` only with two labels). */
  inc(a: string, b = ''): void {
    let byB = this.tallies.get(a);
    if (byB === undefined) {
      byB = new Map();
      this.tallies.set(a, byB);
    }
    byB.set(b, (byB.get(b) ?? 0) + 1);
  }
}
