import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { it } from 'vitest';

import { withTimeout } from './xmpp.js';

/**
 * Debian's python3-slixmpp, the interop tests' second XMPP client. `.ci/run`
 * installs it; locally a test without it is skipped with a warning, and in
 * CI its absence is a failure, never a silent skip.
 */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const hasSlixmpp = spawnSync(PYTHON, ['-c', 'import slixmpp']).status === 0;
const inCi = process.env.CI === 'true';

/** Warns (outside CI) that the tests of `what` are skipped. */
export function warnIfNoSlixmpp(what: string): void {
  if (!hasSlixmpp && !inCi) {
    process.emitWarning(`python3-slixmpp is not installed: the ${what} test is skipped`);
  }
}

/** Inside a describe: fails in CI when slixmpp is missing. */
export function requireSlixmppInCi(): void {
  it.runIf(!hasSlixmpp && inCi)('has python3-slixmpp installed in CI', () => {
    throw new Error(
      `python3-slixmpp is missing (${PYTHON} cannot import slixmpp); .ci/run installs it`,
    );
  });
}

/** One line of a slixmpp script's output: `{"event": name, ...fields}`. */
export interface ScriptEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

type Waiter = {
  readonly match: (event: ScriptEvent) => boolean;
  readonly resolve: (event: ScriptEvent) => void;
  readonly reject: (error: Error) => void;
};

/**
 * A script under test/interop run with slixmpp: JSON events out, one per
 * line (anything else is slixmpp's own output), JSON commands in. An
 * `error` event from the script, or its exit, fails every wait at once,
 * with what it printed, rather than at a timeout.
 */
export class SlixmppScript {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: ScriptEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private stderr = '';
  private failure?: Error;
  private commands = 0;

  constructor(
    script: string,
    args: readonly string[],
    private readonly timeoutMs = 20_000,
  ) {
    this.child = spawn(PYTHON, [script, ...args]);
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) {
        this.onEvent(JSON.parse(line) as ScriptEvent);
      }
    });
    this.child.on('exit', (code) => {
      this.fail(new Error(`slixmpp exited ${code}: ${this.stderr.slice(-800)}`));
    });
  }

  /** The first event named `match` (or matching it), seen already or still to come. */
  next(match: string | ((event: ScriptEvent) => boolean), what?: string): Promise<ScriptEvent> {
    const test = typeof match === 'string' ? (event: ScriptEvent) => event.event === match : match;
    const label = what ?? (typeof match === 'string' ? match : 'event');

    return withTimeout(
      new Promise<ScriptEvent>((resolve, reject) => {
        const seen = this.events.find(test);
        if (seen !== undefined) {
          resolve(seen);
        } else if (this.failure !== undefined) {
          reject(this.failure);
        } else {
          this.waiters.push({ match: test, resolve, reject });
        }
      }),
      this.timeoutMs,
      `slixmpp ${label}`,
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; events ${JSON.stringify(this.events)}; ${this.stderr.slice(-4000)}`,
      );
    });
  }

  /** Sends one command; resolves with its `done` or `failed` event. */
  run(cmd: string, fields: Record<string, unknown> = {}): Promise<ScriptEvent> {
    this.commands += 1;
    const tag = `cmd-${this.commands}`;
    this.child.stdin.write(`${JSON.stringify({ cmd, tag, ...fields })}\n`);

    return this.next(
      (event) => (event.event === 'done' || event.event === 'failed') && event.tag === tag,
      cmd,
    );
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }

  private onEvent(event: ScriptEvent): void {
    this.events.push(event);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(event)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
    if (event.event === 'error') {
      this.fail(new Error(`slixmpp: ${String(event.message)}`));
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiters.splice(0).forEach((waiter) => waiter.reject(error));
  }
}
