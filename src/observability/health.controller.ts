import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
} from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';

import { REDIS } from '#src/redis/redis.module.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis | null,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database and Redis (when configured) answer' })
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.checkDatabase(), () => this.checkRedis()]);
  }

  private async checkDatabase() {
    const indicator = this.indicators.check('database');
    try {
      await this.dataSource.query('SELECT 1');

      return indicator.up();
    } catch (error: unknown) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  private async checkRedis() {
    const indicator = this.indicators.check('redis');
    if (this.redis === null) {
      return indicator.up({ mode: 'in-process' });
    }
    try {
      await this.redis.ping();

      return indicator.up();
    } catch (error: unknown) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
