import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';

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
  ) {}

  /** `dataDir` of `memory://` keeps everything in memory, for throwaway runs. */
  static async start(dataDir: string, maxConnections: number): Promise<EmbeddedPostgres> {
    if (!dataDir.startsWith('memory://')) {
      mkdirSync(dataDir, { recursive: true });
    }
    const db = await PGlite.create(dataDir);
    const port = await freeLoopbackPort();
    // PGlite runs one query at a time; the socket server queues the rest, so
    // it must accept as many connections as the pool opens.
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: maxConnections + 2 });
    await server.start();

    return new EmbeddedPostgres(db, server, `postgres://postgres@127.0.0.1:${port}/postgres`);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
  }
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
