import { Injectable, Logger } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { parseUserAddress, UserRef, UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { timestampOf } from '#src/common/ids.js';
import { AppConfig } from '#src/config/app-config.js';
import { ArchiveWriter, type ArchiveWriteResult } from '#src/messaging/archive-writer.service.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import type { MessageView } from '#src/messaging/message-view.js';
import { MetricsService } from '#src/observability/metrics.service.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery, XmppOrigin } from '#src/routing/server-events.js';

export interface SendCommand {
  /** The sender: a user, or a bare JID with no account here (a system sender). */
  readonly sender: UserRef | { readonly id: null; readonly jid: string };
  readonly to: string;
  readonly body: string;
  readonly clientId?: string;
  readonly replyTo?: string;
  readonly thread?: string;
  /** Where the send came from, for metrics. */
  readonly source: 'client' | 'admin';
  /** The sending session, which gets no copy of its own message. */
  readonly senderSession?: string;
  /** An XMPP full JID's resource the message is for (RFC 6121 section 8.5.3), when it is online. */
  readonly recipientResource?: string;
  /** Sent by an XMPP session: what its stanza said that live deliveries keep. */
  readonly origin?: XmppOrigin;
  /**
   * No copy to the sender's other sessions: an XMPP client's private or
   * no-copy hint (XEP-0280 section 7, XEP-0334).
   */
  readonly noCopies?: boolean;
}

export interface SendResult {
  readonly id: string;
  readonly duplicate: boolean;
}

/** A send that passed validation and holds its place in the archive queue. */
export interface QueuedSend {
  /** Settles once the message is committed and handed to the router, as `send` does. */
  readonly done: Promise<SendResult>;
}

/**
 * Sends a one-to-one message: validate, store both sides in one
 * transaction, then deliver to the recipient's sessions and copy to the
 * sender's other sessions, on whichever node holds them.
 */
@Injectable()
export class MessagesService {
  private readonly logger = new Logger('Messages');

  constructor(
    private readonly users: UsersService,
    private readonly domains: DomainsService,
    private readonly writer: ArchiveWriter,
    private readonly archive: ArchiveService,
    private readonly router: RouterService,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
    private readonly blocking: BlockingService,
  ) {}

  async send(command: SendCommand): Promise<SendResult> {
    return (await this.enqueue(command)).done;
  }

  /**
   * Validates a send and queues its archive write, resolving as soon as the
   * write has its place in the queue. Sends enqueued one after another
   * commit and are routed in that order, so a stream can read its next
   * stanza while earlier messages are still committing.
   */
  async enqueue(command: SendCommand): Promise<QueuedSend> {
    const to = parseUserAddress(command.to, 'to');
    const bytes = Buffer.byteLength(command.body, 'utf8');
    if (bytes > this.config.messageMaxBytes) {
      throw new AppError('message-too-large', {
        detail: `body is ${bytes} bytes; the limit is ${this.config.messageMaxBytes}`,
        fields: [{ name: 'body', reason: `longer than ${this.config.messageMaxBytes} bytes` }],
      });
    }
    // What nearly every send asks is cached: answered without a promise, then a query when cold.
    const recipient = this.cachedRecipient(to) ?? (await this.resolveRecipient(to));
    // XEP-0191: 409 when the sender blocks the recipient; when the recipient blocks the sender the
    // message is kept on the sender's side only and goes no further, and the sender is not told.
    const verdict =
      this.blocking.checkSendCached(command.sender, recipient) ??
      (await this.blocking.checkSend(command.sender, recipient));
    const dropped = verdict === 'drop';
    const thread =
      command.replyTo === undefined ? command.thread : await this.threadOf(command, recipient);
    const written = this.writer.write({
      senderId: command.sender.id,
      senderJid: command.sender.jid,
      recipientId: recipient.id,
      recipientJid: recipient.jid,
      body: command.body,
      ...(command.clientId === undefined ? {} : { clientId: command.clientId }),
      ...(command.replyTo === undefined ? {} : { replyTo: command.replyTo }),
      ...(thread === undefined ? {} : { thread }),
      ...(dropped ? { senderOnly: true } : {}),
    });

    return {
      done: written.then((stored) => this.afterCommit(command, recipient, stored, thread, dropped)),
    };
  }

  /** Settles a committed send: routed, unless it was a retry. Sessions on this node get it at once. */
  private afterCommit(
    command: SendCommand,
    recipient: UserRef,
    stored: ArchiveWriteResult,
    thread: string | undefined,
    dropped: boolean,
  ): SendResult | Promise<SendResult> {
    if (stored.duplicate) {
      // A retry is the same request again; the same key on another message is a client bug, not a retry.
      if (stored.body !== command.body || stored.recipientJid !== recipient.jid) {
        throw new AppError('idempotency-key-reused', {
          detail: `message ${stored.id} was sent with this key to ${stored.recipientJid}`,
        });
      }

      return { id: stored.id, duplicate: true };
    }
    this.metrics.messagesAccepted.inc(command.source);
    const result: SendResult = { id: stored.id, duplicate: false };
    // Stored is what counts: a routing failure is logged, and devices catch up from the archive.
    let remote: Promise<unknown> | undefined;
    try {
      remote = this.route(command, recipient, stored, thread, dropped);
    } catch (error: unknown) {
      this.routeFailed(error, stored.id);
    }

    return remote === undefined
      ? result
      : remote.then(
          () => result,
          (error: unknown) => {
            this.routeFailed(error, stored.id);

            return result;
          },
        );
  }

  private routeFailed(error: unknown, messageId: string): void {
    this.logger.error({ err: error, messageId }, 'live delivery failed after commit');
  }

  /** The recipient as the caches have it, when both the domain and the user are there. */
  private cachedRecipient(jid: string): UserRef | undefined {
    const domain = jid.slice(jid.indexOf('@') + 1);

    return this.domains.knownEnabled(domain) ? this.users.cachedByJid(jid) : undefined;
  }

  /**
   * The thread a message joins: the one given, else for a reply the thread of
   * the message it answers, which must be in this conversation.
   */
  private async threadOf(command: SendCommand, recipient: UserRef): Promise<string | undefined> {
    if (command.replyTo === undefined) {
      return command.thread;
    }
    const [owner, peer] =
      command.sender.id === null
        ? [recipient.id, command.sender.jid]
        : [command.sender.id, recipient.jid];
    const parent = await this.archive.find(owner, command.replyTo);
    if (parent?.peer !== peer) {
      throw new AppError('message-not-found', {
        detail: `reply_to ${command.replyTo} is not a message of this conversation`,
        fields: [{ name: 'reply_to', reason: 'no such message in this conversation' }],
      });
    }

    return command.thread ?? parent.thread ?? parent.id;
  }

  private async resolveRecipient(jid: string): Promise<UserRef> {
    const domain = jid.slice(jid.indexOf('@') + 1);
    const enabled = await this.domains.isEnabled(domain);
    const recipient = enabled === true ? await this.users.findByJid(jid) : undefined;
    if (recipient === undefined) {
      throw new AppError('user-not-found', {
        detail: `${jid} does not exist`,
        fields: [{ name: 'to', reason: 'no such user' }],
      });
    }

    return recipient;
  }

  /**
   * Delivers to the recipient's sessions and copies to the sender's others,
   * here at once; a promise comes back only for sessions on other nodes.
   */
  private route(
    command: SendCommand,
    recipient: UserRef,
    stored: ArchiveWriteResult,
    thread: string | undefined,
    dropped: boolean,
  ): Promise<unknown> | undefined {
    const self = command.sender.jid === recipient.jid;
    // The sending session knows what it sent; every other session hears of it.
    const toRecipient = !dropped && this.router.mayReach(recipient.jid, command.senderSession);
    const toSender =
      command.sender.id !== null &&
      !self &&
      command.noCopies !== true &&
      this.router.mayReach(command.sender.jid, command.senderSession);
    if (!toRecipient && !toSender) {
      return undefined;
    }
    const outgoing =
      self || toSender ? viewOf(command, recipient, stored.id, thread, 'out') : undefined;
    const incoming = self ? outgoing! : viewOf(command, recipient, stored.id, thread, 'in');
    const delivered = toRecipient
      ? this.router.deliverNow(
          recipient.jid,
          withInbox(
            {
              event: 'message',
              data: incoming,
              ...(command.recipientResource === undefined
                ? {}
                : { resource: command.recipientResource }),
              ...(command.origin === undefined ? {} : { origin: command.origin }),
              ...(command.noCopies === true ? { private: true as const } : {}),
            },
            stored,
            recipient.id,
            command.sender.jid,
          ),
          command.senderSession,
        )
      : undefined;
    const copied = toSender
      ? this.router.deliverNow(
          command.sender.jid,
          withInbox(
            {
              event: 'message:sent',
              data: outgoing!,
              ...(command.origin === undefined ? {} : { origin: command.origin }),
            },
            stored,
            command.sender.id,
            recipient.jid,
          ),
          command.senderSession,
        )
      : undefined;
    if (delivered === undefined || copied === undefined) {
      return delivered ?? copied;
    }

    return Promise.all([delivered, copied]);
  }
}

/** A new message as one side sees it; the sender's idempotency key only on its own side. */
function viewOf(
  command: SendCommand,
  recipient: UserRef,
  id: string,
  thread: string | undefined,
  direction: 'in' | 'out',
): MessageView {
  return {
    id,
    from: command.sender.jid,
    to: recipient.jid,
    body: command.body,
    timestamp: timestampOf(id),
    ...(command.replyTo === undefined ? {} : { reply_to: command.replyTo }),
    ...(thread === undefined ? {} : { thread }),
    direction,
    ...(direction === 'out' && command.clientId !== undefined
      ? { client_id: command.clientId }
      : {}),
  };
}

/** The message's delivery, then the change it made to this owner's inbox entry, if any. */
function withInbox(
  message: Delivery,
  stored: ArchiveWriteResult,
  ownerId: string | null,
  conversation: string,
): Delivery[] {
  const change = stored.inbox.find((entry) => entry.ownerId === ownerId);

  return change === undefined
    ? [message]
    : [
        message,
        {
          event: 'inbox',
          data: {
            type: 'chat',
            id: conversation,
            unread: change.unread,
            last_message_id: stored.id,
          },
        },
      ];
}
