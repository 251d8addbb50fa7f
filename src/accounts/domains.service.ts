import { Injectable, Logger } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';

import { DomainEntity } from '#src/accounts/domain.entity.js';
import { AppError } from '#src/common/errors/problems.js';
import { JidError, normalizeDomain } from '#src/common/jid.js';
import { AppConfig } from '#src/config/app-config.js';
import { RouterService } from '#src/routing/router.service.js';

/** How long another node's domain change may take to be seen here. */
const CACHE_TTL_MS = 5_000;
/** A cache used when older than this is read again in the background, so that no send waits for it. */
const CACHE_REFRESH_MS = CACHE_TTL_MS / 2;

type EnabledByName = ReadonlyMap<string, boolean>;

@Injectable()
export class DomainsService {
  private readonly logger = new Logger('Domains');
  private readonly domains: Repository<DomainEntity>;
  private cache?: { readonly at: number; readonly enabled: EnabledByName };
  /** The read in progress, shared by everyone asking meanwhile. */
  private reading?: Promise<EnabledByName>;
  /** Counts invalidations, so a read that began before one is not kept as fresh. */
  private generation = 0;

  constructor(
    dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly router: RouterService,
  ) {
    this.domains = dataSource.getRepository(DomainEntity);
    router.onNotice((message) => {
      if (message.kind === 'domain-changed') {
        this.invalidate();
      }
    });
  }

  /** Adds the configured domains that the database does not know yet. */
  async ensureConfigured(): Promise<void> {
    const result = await this.domains
      .createQueryBuilder()
      .insert()
      .values(this.config.domains.map((name) => ({ name })))
      .orIgnore()
      .returning('name')
      .execute();
    const added = (result.raw as { name: string }[]).map((row) => row.name);
    if (added.length > 0) {
      this.logger.log({ domains: added }, 'configured domains added');
    }
    this.invalidate();
  }

  list(): Promise<DomainEntity[]> {
    return this.domains.find({ order: { name: 'ASC' } });
  }

  async add(name: string): Promise<DomainEntity> {
    const domain = parseDomainName(name);
    const inserted = await this.domains
      .createQueryBuilder()
      .insert()
      .values({ name: domain })
      .orIgnore()
      .returning('*')
      .execute();
    if ((inserted.raw as unknown[]).length === 0) {
      throw new AppError('domain-exists', { detail: `domain ${domain} already exists` });
    }
    this.invalidate();

    return this.domains.findOneByOrFail({ name: domain });
  }

  async setEnabled(name: string, enabled: boolean): Promise<DomainEntity> {
    const domain = parseDomainName(name);
    const result = await this.domains.update({ name: domain }, { enabled });
    if (result.affected === 0) {
      throw new AppError('domain-not-found', { detail: `domain ${domain} is not served here` });
    }
    this.invalidate();
    // Every node forgets the domain's state; disabling ends its users' sessions everywhere.
    await this.router.notifyAll({ kind: 'domain-changed', domain, usable: enabled });

    return this.domains.findOneByOrFail({ name: domain });
  }

  /** Removes the domain with every user and their data (foreign keys cascade). */
  async remove(name: string): Promise<void> {
    const domain = parseDomainName(name);
    const result = await this.domains.delete({ name: domain });
    if (result.affected === 0) {
      throw new AppError('domain-not-found', { detail: `domain ${domain} is not served here` });
    }
    this.invalidate();
    await this.router.notifyAll({ kind: 'domain-changed', domain, usable: false });
  }

  /**
   * True when the cache, still fresh, has the domain enabled; false when it
   * does not know so (ask `isEnabled`). Lets the send path skip a promise.
   */
  knownEnabled(domain: string): boolean {
    return this.fresh()?.get(domain) === true;
  }

  /** Whether a domain is served and enabled; undefined when it is not served at all. */
  async isEnabled(domain: string): Promise<boolean | undefined> {
    return (this.fresh() ?? (await this.read())).get(domain);
  }

  /** The cached domains while fresh, read again in the background past half their life. */
  private fresh(): EnabledByName | undefined {
    const cache = this.cache;
    const age = cache === undefined ? Infinity : Date.now() - cache.at;
    if (cache === undefined || age > CACHE_TTL_MS) {
      return undefined;
    }
    if (age >= CACHE_REFRESH_MS && this.reading === undefined) {
      this.read().catch((error: unknown) => {
        // The cache serves until it expires; the next use past half its life tries again.
        this.logger.warn({ err: error }, 'refreshing the domains failed');
      });
    }

    return cache.enabled;
  }

  private read(): Promise<EnabledByName> {
    if (this.reading === undefined) {
      const reading: Promise<EnabledByName> = this.load().finally(() => {
        if (this.reading === reading) {
          this.reading = undefined;
        }
      });
      this.reading = reading;
    }

    return this.reading;
  }

  private async load(): Promise<EnabledByName> {
    const generation = this.generation;
    const at = Date.now();
    const rows = await this.domains.find();
    const enabled = new Map(rows.map((row) => [row.name, row.enabled]));
    if (generation === this.generation) {
      this.cache = { at, enabled };
    }

    return enabled;
  }

  private invalidate(): void {
    this.generation += 1;
    this.cache = undefined;
    this.reading = undefined;
  }

  async assertExists(domain: string): Promise<void> {
    if ((await this.isEnabled(domain)) === undefined) {
      throw new AppError('domain-not-found', { detail: `domain ${domain} is not served here` });
    }
  }
}

export function parseDomainName(name: string): string {
  try {
    return normalizeDomain(name);
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new AppError('invalid-jid', {
        detail: error.message,
        fields: [{ name: 'domain', reason: error.reason }],
        cause: error,
      });
    }
    throw error;
  }
}
