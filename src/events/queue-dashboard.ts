import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

import { AdminAuthGuard } from '#src/auth/guards.js';
import { toAppError } from '#src/common/errors/problem.filter.js';
import { toProblemDocument } from '#src/common/errors/problems.js';
import { BullMqDeliveryScheduler, DeliveryScheduler } from '#src/events/delivery-scheduler.js';

export const QUEUE_DASHBOARD_PATH = '/api/admin/queues';

/** The BullMQ dashboard (bull-board) for the webhook queue, behind the admin credentials. Redis mode only. */
export function mountQueueDashboard(app: INestApplication): boolean {
  const scheduler = app.get(DeliveryScheduler, { strict: false });
  if (!(scheduler instanceof BullMqDeliveryScheduler)) {
    return false;
  }
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(scheduler.queue)], serverAdapter });
  const guard = app.get(AdminAuthGuard, { strict: false });
  const requireAdmin = (request: Request, response: Response, next: NextFunction) => {
    const context = { switchToHttp: () => ({ getRequest: () => request }) } as Parameters<
      AdminAuthGuard['canActivate']
    >[0];
    guard.canActivate(context).then(
      () => next(),
      (error: unknown) => {
        const problem = toAppError(error);
        response.setHeader('WWW-Authenticate', 'Basic realm="admin"');
        response
          .status(problem.status)
          .type('application/problem+json')
          .send(JSON.stringify(toProblemDocument(problem)));
      },
    );
  };
  app.use(QUEUE_DASHBOARD_PATH, requireAdmin, serverAdapter.getRouter());

  return true;
}
