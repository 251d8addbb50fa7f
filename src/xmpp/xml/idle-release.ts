/** A parser as IdleRelease sees it (XmlStreamParser). */
export interface Releasable {
  /**
   * Called once a tick: lets go of the parse state when there was no input
   * since the last call and the parser is between stanzas. True once
   * nothing is held any more, so the parser need not be watched.
   */
  releaseIfQuiet(): boolean;
}

/**
 * One shared timer for the parse state of every stream: a parser that had
 * no input for a whole tick drops its saxes object until its next input
 * rebuilds it, so an idle session keeps only counters and its root element.
 * A busy stream is never rebuilt; the timer runs only while some parser
 * holds state.
 */
export class IdleRelease {
  private readonly watched = new Set<Releasable>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly tickMs: number) {}

  /** A parser (re)built its state; it is released after a tick or two without input. */
  watch(parser: Releasable): void {
    this.watched.add(parser);
    this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
  }

  get size(): number {
    return this.watched.size;
  }

  tick(): void {
    for (const parser of this.watched) {
      if (parser.releaseIfQuiet()) {
        this.watched.delete(parser);
      }
    }
    if (this.watched.size === 0) {
      this.close();
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }
}
