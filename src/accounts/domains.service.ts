import { Injectable, Logger } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';

import { DomainEntity } from '#src/accounts/domain.entity.js';
import { AppError } from '#src/common/errors/problems.js';
import { JidError, normalizeDomain } from '#src/common/jid.js';
import { RefreshingSnapshot } from '#src/common/refreshing-snapshot.js';
import { AppConfig } from '#src/config/app-config.js';
import { RouterService } from '#src/routing/router.service.js';

/** How long another node's domain change may take to be seen here. */
const CACHE_TTL_MS = 5_000;

type EnabledByName = ReadonlyMap<string, boolean>;

@Injectable()
export class DomainsService {
  private readonly logger = new Logger('Domains');
  private readonly domains: Repository<DomainEntity>;
  /** Which domains are enabled, asked by every send. */
  private readonly enabled: RefreshingSnapshot<EnabledByName>;

  constructor(
    dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly router: RouterService,
  ) {
    this.domains = dataSource.getRepository(DomainEntity);
    this.enabled = new RefreshingSnapshot(
      async () => new Map((await this.domains.find()).map((row) => [row.name, row.enabled])),
      CACHE_TTL_MS,
      (error: unknown) => this.logger.warn({ err: error }, 'refreshing the domains failed'),
    );
    router.onNotice((message) => {
      if (message.kind === 'domain-changed') {
        this.enabled.invalidate();
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
    this.enabled.invalidate();
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
    this.enabled.invalidate();

    return this.domains.findOneByOrFail({ name: domain });
  }

  async setEnabled(name: string, enabled: boolean): Promise<DomainEntity> {
    const domain = parseDomainName(name);
    const result = await this.domains.update({ name: domain }, { enabled });
    if (result.affected === 0) {
      throw new AppError('domain-not-found', { detail: `domain ${domain} is not served here` });
    }
    this.enabled.invalidate();
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
    this.enabled.invalidate();
    await this.router.notifyAll({ kind: 'domain-changed', domain, usable: false });
  }

  /**
   * True when the cache, still fresh, has the domain enabled; false when it
   * does not know so (ask `isEnabled`). Lets the send path skip a promise.
   */
  knownEnabled(domain: string): boolean {
    return this.enabled.fresh()?.get(domain) === true;
  }

  /** Whether a domain is served and enabled; undefined when it is not served at all. */
  async isEnabled(domain: string): Promise<boolean | undefined> {
    return (await this.enabled.get()).get(domain);
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
