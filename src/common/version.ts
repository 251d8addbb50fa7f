import { existsSync, readFileSync } from 'node:fs';

/** The project's package.json: two directories up from the source, three from `dist/`. */
function packageFile(): URL {
  const fromSource = new URL('../../package.json', import.meta.url);

  return existsSync(fromSource) ? fromSource : new URL('../../../package.json', import.meta.url);
}

/** The server's version, as package.json gives it. */
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(packageFile(), 'utf8')) as { version: string }
).version;
