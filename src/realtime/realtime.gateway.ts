import { Optional, UseFilters } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { PasswordAuthenticator } from '#src/auth/password-authenticator.service.js';
import { TokensService } from '#src/auth/tokens.service.js';
import { AppError, toProblemDocument } from '#src/common/errors/problems.js';
import { isXmlSafe } from '#src/common/xml-text.js';
import { toAppError } from '#src/common/errors/problem.filter.js';
import { AppConfig } from '#src/config/app-config.js';
import { SendMessageDto } from '#src/messaging/dto/send-message.dto.js';
import { MarkersService } from '#src/messaging/markers.service.js';
import { MessageOperationsService } from '#src/messaging/message-operations.service.js';
import type { MessageView } from '#src/messaging/message-view.js';
import type { RoomMessageView } from '#src/rooms/room-message-view.js';
import { MessagesService } from '#src/messaging/messages.service.js';
import {
  MessageRefDto,
  SocketEditDto,
  SocketMarkerDto,
  SocketReactionDto,
} from '#src/realtime/dto/message-operations.dto.js';
import { emitTogether } from '#src/realtime/emit-together.js';
import { SocketPayloadPipe } from '#src/realtime/socket-payload.pipe.js';
import { SocketRoomMessageDto } from '#src/rooms/dto/rooms.dto.js';
import { RoomMessagesService } from '#src/rooms/room-messages.service.js';
import { parseRoomId } from '#src/rooms/room-rules.js';
import { RouterService } from '#src/routing/router.service.js';
import type { LocalSession } from '#src/routing/session.js';
import { SocketProblemFilter } from '#src/realtime/socket-problem.filter.js';

interface SocketData {
  user: AuthenticatedUser;
  session: LocalSession;
}

type UserSocket = Socket<
  Record<string, never>,
  Record<string, (...args: unknown[]) => void>,
  Record<string, never>,
  SocketData
>;

/**
 * socket.io: each socket is one session of one user. The handshake carries
 * `auth: {token}` (a bearer access token) or `auth: {jid, password}`.
 */
@UseFilters(SocketProblemFilter)
@WebSocketGateway({ serveClient: false, maxHttpBufferSize: 1024 * 1024 })
export class RealtimeGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  constructor(
    private readonly tokens: TokensService,
    private readonly passwords: PasswordAuthenticator,
    private readonly router: RouterService,
    private readonly messages: MessagesService,
    private readonly operations: MessageOperationsService,
    private readonly markers: MarkersService,
    private readonly config: AppConfig,
    /** Absent when the rooms module is off. */
    @Optional() private readonly roomMessages?: RoomMessagesService,
  ) {}

  afterInit(server: Server): void {
    server.use((socket, next) => {
      this.authenticate(socket as UserSocket)
        .then(() => next())
        .catch((error: unknown) => {
          const problem = toProblemDocument(toAppError(error));
          next(Object.assign(new Error(problem.title), { data: problem }));
        });
    });
  }

  async handleConnection(socket: UserSocket): Promise<void> {
    const { session } = socket.data;
    if (session === undefined) {
      socket.disconnect(true);

      return;
    }
    await this.router.attach(session);
    socket.emit('session', { id: session.id, jid: session.jid, resource: session.resource });
  }

  async handleDisconnect(socket: UserSocket): Promise<void> {
    if (socket.data.session !== undefined) {
      await this.router.detach(socket.data.session);
    }
  }

  /** Sends a message from this session; the ack carries `{id}` or `{error}` (a problem document). */
  @SubscribeMessage('message:send')
  async send(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SendMessageDto,
  ): Promise<{ id: string }> {
    const { to, body, client_id: clientId, reply_to: replyTo, thread } = dto;
    const result = await this.messages.send({
      sender: socket.data.user,
      to,
      body,
      source: 'client',
      senderSession: socket.data.session.id,
      ...(clientId === undefined ? {} : { clientId }),
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(thread === undefined ? {} : { thread }),
    });

    return { id: result.id };
  }

  /** Sends to a room from this session; the ack carries `{id}` or `{error}`, as for `message:send`. */
  @SubscribeMessage('room:send')
  async sendToRoom(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SocketRoomMessageDto,
  ): Promise<{ id: string }> {
    if (this.roomMessages === undefined) {
      throw new AppError('not-found', { detail: 'rooms are not enabled on this server' });
    }

    return this.roomMessages.post(socket.data.user, {
      roomId: parseRoomId(dto.room, 'room'),
      source: 'client',
      senderSession: socket.data.session.id,
      ...(dto.body === undefined ? {} : { body: dto.body }),
      ...(dto.client_id === undefined ? {} : { clientId: dto.client_id }),
      ...(dto.reply_to === undefined ? {} : { replyTo: dto.reply_to }),
      ...(dto.thread === undefined ? {} : { thread: dto.thread }),
      ...(dto.marker === undefined ? {} : { marker: dto.marker }),
    });
  }

  /** `{id, body}`: corrects a message this user sent; the ack carries the message as the archive shows it. */
  @SubscribeMessage('message:edit')
  edit(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SocketEditDto,
  ): Promise<MessageView | RoomMessageView> {
    return this.operations.edit(socket.data.user, dto.id, dto.body);
  }

  /** `{id}`: retracts a message this user sent. */
  @SubscribeMessage('message:retract')
  async retract(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: MessageRefDto,
  ): Promise<{ ok: true }> {
    await this.operations.retract(socket.data.user, dto.id);

    return { ok: true };
  }

  /** `{id, emoji}` */
  @SubscribeMessage('reaction:add')
  async react(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SocketReactionDto,
  ): Promise<{ ok: true }> {
    await this.operations.react(socket.data.user, dto.id, dto.emoji, true);

    return { ok: true };
  }

  /** `{id, emoji}` */
  @SubscribeMessage('reaction:remove')
  async unreact(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SocketReactionDto,
  ): Promise<{ ok: true }> {
    await this.operations.react(socket.data.user, dto.id, dto.emoji, false);

    return { ok: true };
  }

  /** `{id, type}`: a chat marker (received, displayed, acknowledged) on a message and all before it. */
  @SubscribeMessage('marker:send')
  async mark(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody(new SocketPayloadPipe()) dto: SocketMarkerDto,
  ): Promise<{ ok: true }> {
    await this.markers.mark(socket.data.user, dto.id, dto.type);

    return { ok: true };
  }

  private async authenticate(socket: UserSocket): Promise<void> {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const address = socket.handshake.address;
    let user: AuthenticatedUser;
    if (typeof auth.token === 'string') {
      const verified = await this.tokens.verifyAccess(auth.token);
      user = { ...verified.user, method: 'token', tokenId: verified.tokenId };
    } else if (typeof auth.jid === 'string' && typeof auth.password === 'string') {
      user = {
        ...(await this.passwords.authenticate(auth.jid, auth.password, address)),
        method: 'basic',
      };
    } else {
      throw new AppError('unauthorized', {
        detail: 'connect with auth: {token} or auth: {jid, password}',
      });
    }
    const resource =
      typeof auth.resource === 'string' && auth.resource !== '' && isXmlSafe(auth.resource)
        ? auth.resource.slice(0, 256)
        : `web-${socket.id.slice(0, 8)}`;
    socket.data.user = user;
    const connectedAt = Date.now();
    socket.data.session = {
      id: socket.id,
      jid: user.jid,
      resource,
      transport: 'socket.io',
      node: this.config.nodeId,
      connectedAt,
      receivingSince: connectedAt,
      address,
      deliver: (delivery) => socket.emit(delivery.event, delivery.data),
      deliverAll: (deliveries) => emitTogether(socket, deliveries),
      close: (reason) => {
        socket.emit('session:closed', { reason });
        socket.disconnect(true);
      },
    };
  }
}
