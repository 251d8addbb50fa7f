import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PostgreSQL embedded in the process (PGlite), served on a loopback socket so
 * the same `pg` driver, the same TypeORM code and the same migrations run in
 * both modes. Data lives in `dataDir` and survives a restart.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    readonly url: string,
    private readonly lockedDir?: string,
  ) {}

  /** `dataDir` of `memory://` keeps everything in memory, for throwaway runs. */
  static async start(dataDir: string, maxConnections: number): Promise<EmbeddedPostgres> {
    const inMemory = dataDir.startsWith('memory://');
    if (!inMemory) {
      mkdirSync(dataDir, { recursive: true });
      takeLock(dataDir);
    }
    const db = await PGlite.create(dataDir);
    const port = await freeLoopbackPort();
    // PGlite runs one query at a time; the socket server queues the rest, so
    // it must accept as many connections as the pool opens.
    const server = new PGLiteSocketServer({
      db,
      host: '127.0.0.1',
      port,
      maxConnections: maxConnections + 2,
    });
    await server.start();

    return new EmbeddedPostgres(
      db,
      server,
      `postgres://postgres@127.0.0.1:${port}/postgres`,
      inMemory ? undefined : dataDir,
    );
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    if (this.lockedDir !== undefined) {
      rmSync(lockPath(this.lockedDir), { force: true });
    }
  }
}

/**
 * One process at a time may open an embedded database: two would corrupt it.
 * A lock left by a process that died is taken over.
 */
function takeLock(dataDir: string): void {
  const path = lockPath(dataDir);
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });

    return;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
  }
  const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
  if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
    throw new Error(
      `the embedded database in ${dataDir} is in use by process ${holder}; stop it or use another DATA_DIR`,
    );
  }
  writeFileSync(path, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);

    return true;
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockPath(dataDir: string): string {
  return join(dataDir, '..', 'embedded-postgres.lock');
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}
