import type { NextFunction, Request, Response } from 'express';
import type { Histogram } from 'prom-client';

import type { MetricsService } from '#src/observability/metrics.service.js';

const ROUTE = Symbol('metrics route');

type LabelledRequest = Request & { [ROUTE]?: string };

/**
 * Names the route of a request that Express does not route (the send fast
 * route answers before Express's router), as Express would have named it.
 */
export function labelRoute(request: Request, route: string): void {
  (request as LabelledRequest)[ROUTE] = route;
}

/** Times every request by its route pattern (not its URL, which would explode the label set). */
export function httpMetricsMiddleware(metrics: MetricsService) {
  // One labelled child per method, route and status: prom-client would hash the labels on every observation.
  const children = new Map<string, Histogram.Internal<'method' | 'route' | 'status'>>();
  const childFor = (method: string, route: string, status: string) => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (child === undefined) {
      child = metrics.httpDuration.labels({ method, route, status });
      children.set(key, child);
    }

    return child;
  };

  return (request: Request, response: Response, next: NextFunction): void => {
    const started = performance.now();
    response.on('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path;
      childFor(
        request.method,
        (request as LabelledRequest)[ROUTE] ??
          (route === undefined ? 'unmatched' : `${request.baseUrl}${route}`),
        String(response.statusCode),
      ).observe((performance.now() - started) / 1000);
    });
    next();
  };
}
