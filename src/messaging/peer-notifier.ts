import { Injectable } from '@nestjs/common';

import { UserRef, UsersService } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { RouterService } from '#src/routing/router.service.js';
import type { Delivery } from '#src/routing/server-events.js';

/** Live news of a one-to-one conversation for the other participant. */
@Injectable()
export class PeerNotifier {
  constructor(
    private readonly users: UsersService,
    private readonly blocking: BlockingService,
    private readonly router: RouterService,
  ) {}

  /** Tells `peer`, unless it is the user themself, has no account here, or blocks the user (XEP-0191). */
  async tell(user: UserRef, peer: string, delivery: Delivery): Promise<void> {
    if (peer === user.jid) {
      return;
    }
    const account = await this.users.findByJid(peer);
    if (account !== undefined && !(await this.blocking.isBlocked(account.id, user.jid))) {
      await this.router.deliver(peer, delivery);
    }
  }
}
