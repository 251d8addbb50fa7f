import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import type { UserRef } from '#src/accounts/users.service.js';
import { AppError } from '#src/common/errors/problems.js';

/** Largest fragment, serialized, in bytes. */
export const PRIVATE_FRAGMENT_MAX_BYTES = 64 * 1024;
/** Namespaces one user may keep. */
export const PRIVATE_FRAGMENTS_MAX = 100;

export interface PrivateFragment {
  readonly namespace: string;
  readonly name: string;
  /** The element serialized, declaring its own namespace. */
  readonly xml: string;
}

/**
 * Per-user storage of opaque XML fragments keyed by namespace (XEP-0049).
 * The server never reads them; it only bounds their size and number.
 */
@Injectable()
export class PrivateStorageService {
  constructor(private readonly dataSource: DataSource) {}

  async get(user: UserRef, namespace: string): Promise<PrivateFragment | undefined> {
    const rows = await this.dataSource.query<PrivateFragment[]>(
      `SELECT namespace, name, xml FROM private_fragments WHERE owner_id = $1 AND namespace = $2`,
      [user.id, namespace],
    );

    return rows[0];
  }

  /** Stores every fragment, replacing those of the same namespaces, all or none. */
  async store(user: UserRef, fragments: readonly PrivateFragment[]): Promise<void> {
    for (const fragment of fragments) {
      if (Buffer.byteLength(fragment.xml, 'utf8') > PRIVATE_FRAGMENT_MAX_BYTES) {
        throw new AppError('payload-too-large', {
          detail: `a private fragment is at most ${PRIVATE_FRAGMENT_MAX_BYTES} bytes`,
        });
      }
    }
    await this.dataSource.transaction(async (manager) => {
      // Serialized per user, so the count below holds under concurrent stores.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('private:' || $1, 0))`, [
        user.id,
      ]);
      for (const fragment of fragments) {
        await manager.query(
          `INSERT INTO private_fragments (owner_id, namespace, name, xml) VALUES ($1, $2, $3, $4)
           ON CONFLICT (owner_id, namespace)
           DO UPDATE SET name = EXCLUDED.name, xml = EXCLUDED.xml, updated_at = now()`,
          [user.id, fragment.namespace, fragment.name, fragment.xml],
        );
      }
      const [{ count }] = await manager.query<[{ count: number }]>(
        `SELECT count(*)::int AS count FROM private_fragments WHERE owner_id = $1`,
        [user.id],
      );
      if (count > PRIVATE_FRAGMENTS_MAX) {
        // Thrown inside the transaction: nothing of this store stays.
        throw new AppError('payload-too-large', {
          detail: `at most ${PRIVATE_FRAGMENTS_MAX} private namespaces per user`,
        });
      }
    });
  }
}
