import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { it } from 'vitest';

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
