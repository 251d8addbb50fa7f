import { UseFilters } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { Socket } from 'socket.io';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { SessionPresenceDto, TypingDto } from '#src/presence/dto/presence.dto.js';
import type { PresenceView } from '#src/presence/presence-view.js';
import { PresenceService } from '#src/presence/presence.service.js';
import { TypingService } from '#src/presence/typing.service.js';
import { SocketPayloadPipe } from '#src/realtime/socket-payload.pipe.js';
import { SocketProblemFilter } from '#src/realtime/socket-problem.filter.js';
import type { LocalSession } from '#src/routing/session.js';

/** What the realtime gateway's handshake put on every socket. */
type UserSocket = Socket<
  Record<string, never>,
  Record<string, (...args: unknown[]) => void>,
  Record<string, never>,
  { user: AuthenticatedUser; session: LocalSession }
>;

/**
 * Presence and typing events on the same socket.io server as the realtime
 * gateway, which authenticates the sockets and attaches their sessions.
 */
@UseFilters(SocketProblemFilter)
@WebSocketGateway({ serveClient: false, maxHttpBufferSize: 1024 * 1024 })
export class PresenceGateway {
  constructor(
    private readonly presence: PresenceService,
    private readonly typing: TypingService,
  ) {}

  /** Sets this session's availability and status; the ack carries the user's presence now or `{error}`. */
  @SubscribeMessage('presence:set')
  setPresence(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SessionPresenceDto,
  ): Promise<PresenceView> {
    return this.presence.set(
      socket.data.user,
      { show: dto.show, ...(dto.status === undefined ? {} : { status: dto.status }) },
      socket.data.session.id,
    );
  }

  /** composing / paused to a peer; the ack is `{}` or `{error}`. */
  @SubscribeMessage('typing')
  async notifyTyping(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: TypingDto,
  ): Promise<Record<string, never>> {
    await this.typing.notify(socket.data.user, dto.to, dto.state);

    return {};
  }
}
