import { readFileSync } from 'node:fs';

/** The server's version, from package.json (one directory above `dist/`). */
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
