import { Injectable } from '@nestjs/common';

import { parseUserAddress, UsersService, type UserRef } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import type { ChatState } from '#src/presence/presence-view.js';
import { RouterService } from '#src/routing/router.service.js';

/**
 * Typing notifications (XEP-0085 chat states; REST and socket.io send
 * composing and paused): straight to the peer's live sessions, never
 * stored, so a peer offline simply misses them.
 */
@Injectable()
export class TypingService {
  constructor(
    private readonly users: UsersService,
    private readonly blocking: BlockingService,
    private readonly router: RouterService,
  ) {}

  /** `fromResource`: the XMPP resource that sent it, whose full JID XMPP receivers see. */
  async notify(
    sender: UserRef,
    to: string,
    state: ChatState,
    fromResource?: string,
  ): Promise<void> {
    const peer = parseUserAddress(to, 'to');
    if (peer === sender.jid) {
      throw new AppError('validation', {
        detail: 'typing goes to someone else',
        fields: [{ name: 'to', reason: 'your own address' }],
      });
    }
    if (await this.blocking.isBlocked(sender.id, peer)) {
      throw new AppError('recipient-blocked', {
        detail: `you block ${peer}`,
        fields: [{ name: 'to', reason: 'blocked by you' }],
      });
    }
    const recipient = await this.users.findByJid(peer);
    // Someone who blocks the sender gets nothing, and the sender is not told (XEP-0191 section 3.5).
    if (recipient === undefined || (await this.blocking.isBlocked(recipient.id, sender.jid))) {
      return;
    }
    await this.router.deliver(peer, {
      event: 'typing',
      data: { from: sender.jid, state },
      ...(fromResource === undefined ? {} : { origin: { resource: fromResource } }),
    });
  }
}
