import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The node flags of `npm start`, which the benchmarks also read. */
function startFlags(): string[] {
  const pkg = JSON.parse(read('package.json')) as { scripts: { start: string } };

  return pkg.scripts.start.split(' ').filter((word) => word.startsWith('--'));
}

describe('runtime flags', () => {
  it('are the same in npm start, the Docker image and the README', () => {
    const flags = startFlags();
    expect(flags).toContain('--no-allocation-site-pretenuring');

    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(cmd).toBeDefined();
    const dockerFlags = (JSON.parse(cmd!) as string[]).filter((word) => word.startsWith('--'));
    expect(dockerFlags).toEqual(flags);

    expect(read('README.md')).toContain(`node ${flags.join(' ')} dist/src/main.js`);
  });
});
