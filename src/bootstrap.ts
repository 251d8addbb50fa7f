import 'reflect-metadata';

import type { Server } from 'node:http';

import type { NextFunction, Request, Response } from 'express';

import { Logger as NestLogger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';

import { AppModule } from '#src/app.module.js';
import { AppError, toProblemDocument } from '#src/common/errors/problems.js';
import { EveryRequest } from '#src/common/every-request.js';
import { RelayExpressAdapter } from '#src/common/express-adapter.js';
import { currentRequestId, requestContextMiddleware } from '#src/common/request-context.js';
import { buildOpenApiDocument } from '#src/common/openapi/openapi.js';
import { createValidationPipe } from '#src/common/validation.js';
import type { AppConfig } from '#src/config/app-config.js';
import { AppLogger } from '#src/observability/app-logger.js';
import { createRootLogger, requestLogMiddleware } from '#src/observability/logging.js';
import { mountQueueDashboard } from '#src/events/queue-dashboard.js';
import { httpMetricsMiddleware } from '#src/observability/http-metrics.middleware.js';
import { MetricsService } from '#src/observability/metrics.service.js';
import { RouterService } from '#src/routing/router.service.js';
import { SendFastRoute } from '#src/messaging/send-fast-route.js';

export interface RunningServer {
  readonly app: INestApplication;
  readonly url: string;
  /** Stops accepting, closes sessions, lets in-flight requests finish, then closes stores. */
  stop(): Promise<void>;
}

/**
 * Builds the application without listening: for the server, the tests and
 * the OpenAPI generator. A server that will listen passes its drain switch,
 * which goes in front of every route, and gets the send fast route.
 */
export async function createApp(
  config: AppConfig,
  drain?: DrainSwitch,
): Promise<NestExpressApplication> {
  const rootLogger = createRootLogger(config);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config),
    new RelayExpressAdapter(),
    {
      bodyParser: false,
      logger: new AppLogger(rootLogger),
      abortOnError: false,
    },
  );
  // Ahead of the dashboard's and the docs' routes, which would otherwise come first.
  const everyRequest = new EveryRequest([
    requestContextMiddleware,
    requestLogMiddleware(rootLogger),
    ...(config.isEnabled('metrics') ? [httpMetricsMiddleware(app.get(MetricsService))] : []),
    ...(drain === undefined ? [] : [drain.middleware]),
  ]);
  app.use(everyRequest.middleware);
  app.set('trust proxy', config.http.trustProxy);
  // API answers are not cached by validators; hashing every body for an ETag is wasted work.
  app.set('etag', false);
  app.disable('x-powered-by');
  app.useGlobalPipes(createValidationPipe());
  if (drain !== undefined) {
    app
      .get(SendFastRoute)
      .install(app.getHttpServer(), app.getHttpAdapter().getInstance(), everyRequest);
  }
  if (config.isEnabled('webhooks')) {
    mountQueueDashboard(app);
  }
  if (config.isEnabled('docs')) {
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup('api-docs', app, document, { jsonDocumentUrl: 'api-docs/openapi.json' });
  }

  return app;
}

export async function startServer(config: AppConfig): Promise<RunningServer> {
  if (config.webhooks.workers === 'only') {
    return startWorkerOnly(config);
  }
  const drain = new DrainSwitch();
  const app = await createApp(config, drain);
  try {
    await (config.http.host === undefined
      ? app.listen(config.http.port)
      : app.listen(config.http.port, config.http.host));
  } catch (error: unknown) {
    // The port is taken or the address is wrong: release the database (and its lock) before failing.
    await app.close();
    throw error;
  }
  const server = app.getHttpServer();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.http.port;
  const base = config.http.publicUrl ?? config.baseUrl.replace(/:\d+$/, `:${port}`);
  const logger = new NestLogger('Server');
  logger.log(
    {
      database:
        config.database.mode === 'embedded'
          ? `embedded PostgreSQL (PGlite) in ${config.database.dataDir}`
          : 'PostgreSQL',
      transient: config.redis.mode === 'redis' ? 'Redis' : 'in process',
      domains: config.domains,
      modules: [...config.modules],
    },
    `mode: ${config.database.mode === 'embedded' ? 'embedded (no DATABASE_URL)' : 'PostgreSQL'}, ${config.redis.mode === 'redis' ? 'Redis' : 'no Redis: sessions and work in process'}`,
  );
  logger.log(`API ${base}/api`);
  if (config.isEnabled('docs')) {
    logger.log(`docs ${base}/api-docs`);
  }
  logger.log(`health ${base}/health (ready: ${base}/health/ready)`);

  let stopping: Promise<void> | undefined;

  return {
    app,
    url: `http://127.0.0.1:${port}`,
    stop: () => (stopping ??= shutdown(app, server, drain, config.shutdownTimeoutMs)),
  };
}

/** WEBHOOK_WORKERS=only: delivery workers and the outbox relay, no HTTP listener. */
async function startWorkerOnly(config: AppConfig): Promise<RunningServer> {
  const app = await createApp(config);
  await app.init();
  new NestLogger('Server').log({ node: config.nodeId }, 'webhook worker only: no HTTP listener');
  let stopping: Promise<void> | undefined;

  return { app, url: '', stop: () => (stopping ??= app.close()) };
}

async function shutdown(
  app: INestApplication,
  server: Server,
  drain: DrainSwitch,
  timeoutMs: number,
): Promise<void> {
  // No new connections; idle keep-alive sockets close now, busy ones after their response.
  drain.start();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs).unref();
  // Live sessions (sockets, SSE streams) are told why and closed while the transports still run.
  app.get(RouterService).closeAllSessions('server shutting down');
  // In-flight requests finish (bounded by the deadline) before the database and Redis close under them.
  await closed;
  clearTimeout(deadline);
  await app.close();
}

/**
 * Once shutdown starts, a request arriving on a kept-alive connection is
 * refused with 503 and the connection closed, so that clients move to
 * another node; requests already running finish and answer normally.
 */
class DrainSwitch {
  private draining = false;
  private readonly inFlight = new Set<Response>();

  start(): void {
    this.draining = true;
    // Responses still to come close their connection after they are sent.
    for (const response of this.inFlight) {
      response.shouldKeepAlive = false;
    }
  }

  readonly middleware = (request: Request, response: Response, next: NextFunction): void => {
    if (this.draining) {
      response.setHeader('Connection', 'close');
      response.setHeader('Retry-After', '1');
      response
        .status(503)
        .type('application/problem+json')
        .send(
          JSON.stringify(
            toProblemDocument(
              new AppError('unavailable', { detail: 'the server is shutting down' }),
              currentRequestId(),
              request.originalUrl,
            ),
          ),
        );

      return;
    }
    this.inFlight.add(response);
    response.on('close', () => this.inFlight.delete(response));
    next();
  };
}
