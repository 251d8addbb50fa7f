import { randomUUID } from 'node:crypto';

import { Controller, Get, Headers, Logger, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { CurrentUser } from '#src/auth/authenticated-user.js';
import { UserAuth } from '#src/auth/guards.js';
import { isMessageId } from '#src/common/ids.js';
import { AppConfig } from '#src/config/app-config.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery } from '#src/routing/server-events.js';
import type { LocalSession } from '#src/routing/session.js';

/** Most messages replayed after a reconnect; a client further behind pages the archive. */
const REPLAY_LIMIT = 500;
const KEEPALIVE_MS = 15_000;
/** A client this far behind on reading is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

@ApiTags('messages')
@UserAuth()
@Controller('api/sse')
export class SseController {
  private readonly logger = new Logger('SSE');

  constructor(
    private readonly router: RouterService,
    private readonly archive: ArchiveService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Server-Sent Events stream of the user’s messages',
    description:
      'Events `message` (incoming) and `message:sent` (sent from another device), with the archive JSON as data and the message id as event id; ' +
      'the other live events (`message:edited`, `message:retracted`, `message:reaction`, `marker`, `inbox` and those of later modules) carry no event id. ' +
      'Reconnect with Last-Event-ID to get what was missed (up to 500 messages; page the archive for more).',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The id of the last message received',
  })
  async stream(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: Request,
    @Res() response: Response,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<void> {
    if (request.method === 'HEAD') {
      response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' }).end();

      return;
    }
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.write(': connected\n\n');

    // Live events that arrive while the replay is read are held, then sent after it, without repeats.
    let held: Delivery[] | undefined = lastEventId === undefined ? undefined : [];
    const sent = new Set<string>();
    const write = (delivery: Delivery) => {
      if (held !== undefined) {
        held.push(delivery);

        return;
      }
      if (response.writableLength > MAX_BUFFERED_BYTES) {
        // It is not reading: no goodbye would reach it, and its buffers go with the socket.
        response.destroy();

        return;
      }
      // Only messages carry an id: Last-Event-ID is a cursor into the archive.
      const id = isArchived(delivery) ? `id: ${delivery.data.id}\n` : '';
      response.write(`${id}event: ${delivery.event}\ndata: ${JSON.stringify(delivery.data)}\n\n`);
    };
    const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
    const connectedAt = Date.now();
    const session: LocalSession = {
      id: randomUUID(),
      jid: user.jid,
      resource: `sse-${randomUUID().slice(0, 8)}`,
      transport: 'sse',
      node: this.config.nodeId,
      connectedAt,
      receivingSince: connectedAt,
      address: request.ip,
      deliver: write,
      close: (reason) => {
        response.end(`event: session:closed\ndata: ${JSON.stringify({ reason })}\n\n`);
      },
    };
    response.on('close', () => {
      clearInterval(keepalive);
      this.router
        .detach(session)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'detach failed'));
    });
    await this.router.attach(session);

    if (held !== undefined && lastEventId !== undefined && isMessageId(lastEventId)) {
      const missed = await this.archive.since(user, lastEventId, REPLAY_LIMIT);
      const pending = held;
      held = undefined;
      for (const message of missed) {
        sent.add(message.id);
        write({ event: message.direction === 'in' ? 'message' : 'message:sent', data: message });
      }
      for (const delivery of pending) {
        if (!isArchived(delivery) || !sent.has(delivery.data.id)) {
          write(delivery);
        }
      }
    } else {
      const pending = held ?? [];
      held = undefined;
      pending.forEach(write);
    }
  }
}

function isArchived(
  delivery: Delivery,
): delivery is Extract<Delivery, { event: 'message' | 'message:sent' }> {
  return delivery.event === 'message' || delivery.event === 'message:sent';
}
