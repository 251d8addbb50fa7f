import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    // The same `#src/...` and `#migrations/...` imports as the build, pointed at the sources.
    alias: [
      { find: /^#src\/(.*)\.js$/, replacement: `${root}src/$1.ts` },
      { find: /^#migrations\/(.*)\.js$/, replacement: `${root}migrations/$1.ts` },
      { find: /^#test\/(.*)\.js$/, replacement: `${root}test/$1.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
