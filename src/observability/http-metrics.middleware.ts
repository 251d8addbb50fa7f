import type { NextFunction, Request, Response } from 'express';

import type { MetricsService } from '#src/observability/metrics.service.js';

/** Times every request by its route pattern (not its URL, which would explode the label set). */
export function httpMetricsMiddleware(metrics: MetricsService) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const stop = metrics.httpDuration.startTimer();
    response.on('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path;
      stop({
        method: request.method,
        route: route === undefined ? 'unmatched' : `${request.baseUrl}${route}`,
        status: String(response.statusCode),
      });
    });
    next();
  };
}
