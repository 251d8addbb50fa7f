import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

import type { UserRef } from '#src/accounts/users.service.js';
import { UsersService } from '#src/accounts/users.service.js';
import { BlockingService, type BlocklistChange } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { RosterService } from '#src/contacts/roster.service.js';
import {
  SubscriptionsService,
  type SubscriptionChange,
} from '#src/contacts/subscriptions.service.js';
import { queryPrepared } from '#src/database/prepared-query.js';
import { LastActivityEntity } from '#src/presence/last-activity.entity.js';
import {
  MARK_UNDELIVERED,
  OfflineMarks,
  offlineSinceNow,
} from '#src/presence/offline-marks.service.js';
import { aggregate, offline, type PresenceView } from '#src/presence/presence-view.js';
import { RouterService, type SessionChange } from '#src/routing/router.service.js';
import type { LocalSession, SessionInfo, SessionPresence } from '#src/routing/session.js';

/** What GET /api/contacts/{jid}/last-activity answers (XEP-0012 semantics). */
export interface LastActivityView {
  readonly jid: string;
  readonly online: boolean;
  /** Seconds since the last session closed; 0 while online; absent when never seen. */
  readonly seconds?: number;
  /** Epoch milliseconds. */
  readonly last_seen?: number;
  readonly status?: string;
}

/**
 * Presence (RFC 6121 section 4): each session's availability lives with the
 * session in the registry, so it is transient and seen from every node. A
 * user's presence goes to their own sessions and to the contacts with a
 * from or both subscription, never across a block in either direction.
 */
@Injectable()
export class PresenceService {
  private readonly logger = new Logger('Presence');

  constructor(
    private readonly dataSource: DataSource,
    private readonly router: RouterService,
    private readonly users: UsersService,
    private readonly roster: RosterService,
    private readonly blocking: BlockingService,
    private readonly marks: OfflineMarks,
    subscriptions: SubscriptionsService,
  ) {
    const log = (what: string) => (error: unknown) =>
      this.logger.warn({ err: error }, `${what} failed`);
    router.onSessionChange((change) => {
      this.onSession(change).catch(log('presence broadcast'));
    });
    subscriptions.onChange((change) => {
      this.onSubscription(change).catch(log('presence after a subscription change'));
    });
    blocking.onChange((change) => {
      this.onBlocklist(change).catch(log('presence after a blocklist change'));
    });
  }

  /**
   * Sets the presence of one session of the user, or of all their socket.io
   * and SSE sessions, and broadcasts it. An XMPP session's presence is its
   * client's to set (RFC 6121 section 4): changed behind its back, the
   * client would not know what its contacts see.
   */
  async set(user: UserRef, presence: SessionPresence, sessionId?: string): Promise<PresenceView> {
    const sessions = await this.router.sessionsOf(user.jid);
    const targets =
      sessionId === undefined
        ? sessions.filter((session) => session.transport !== 'xmpp')
        : sessions.filter((session) => session.id === sessionId);
    if (targets.length === 0) {
      throw sessionId === undefined
        ? new AppError('no-session', {
            detail:
              'presence belongs to a socket.io or SSE session; connect first (an XMPP client sets its own)',
          })
        : new AppError('session-not-found', { detail: `you have no session ${sessionId}` });
    }
    const written = await Promise.all(
      targets.map((session) => this.router.setPresence(session, presence)),
    );
    // The sessions as just read, with what was written: no second read of the registry.
    const changed = new Set(targets.filter((_, n) => written[n]).map((session) => session.id));
    const now = sessions
      .filter((session) => !targets.includes(session) || changed.has(session.id))
      .map((session) => (changed.has(session.id) ? { ...session, presence } : session));

    return this.broadcast(user, viewFrom(user.jid, now));
  }

  /** The user's presence now, from the session registry. */
  async viewOf(jid: string): Promise<PresenceView> {
    return viewFrom(jid, await this.router.sessionsOf(jid));
  }

  /**
   * The presence of every contact whose presence the user receives, by JID;
   * `subscriptions` when the caller has just read the roster.
   */
  async contactsOf(user: UserRef, subscriptions?: readonly string[]): Promise<PresenceView[]> {
    const visible = await this.visibleTo(
      user,
      subscriptions ?? (await this.roster.subscriptionsOf(user.id)),
    );
    const views = await Promise.all(visible.sort().map((jid) => this.viewOf(jid)));

    return views;
  }

  /** Last activity of a contact whose presence the user receives (or the user's own); 403 otherwise. */
  async lastActivity(user: UserRef, jid: string): Promise<LastActivityView> {
    if (jid !== user.jid && !(await this.mayWatch(user, jid))) {
      // The same answer whether or not the account exists.
      throw new AppError('forbidden', {
        detail: `you do not receive the presence of ${jid}`,
      });
    }
    if ((await this.router.sessionsOf(jid)).length > 0) {
      return { jid, online: true, seconds: 0 };
    }
    const subject = await this.users.findByJid(jid);
    const row =
      subject === undefined
        ? null
        : await this.dataSource.getRepository(LastActivityEntity).findOneBy({ userId: subject.id });
    if (row === null) {
      return { jid, online: false };
    }

    return {
      jid,
      online: false,
      seconds: Math.max(0, Math.floor((Date.now() - row.seenAt.getTime()) / 1000)),
      last_seen: row.seenAt.getTime(),
      ...(row.status === null ? {} : { status: row.status }),
    };
  }

  /** Sends the user's presence to their sessions and to every contact allowed to see it. */
  private async broadcast(user: UserRef, known?: PresenceView): Promise<PresenceView> {
    const view = known ?? (await this.viewOf(user.jid));
    const recipients = await this.visibleTo(user, await this.roster.subscribersOf(user.id));
    await Promise.all(
      [user.jid, ...recipients].map((jid) =>
        this.router.deliver(jid, { event: 'presence', data: view }),
      ),
    );

    return view;
  }

  private async onSession(change: SessionChange): Promise<void> {
    if (change.online && change.session.presence?.available === false) {
      // An XMPP session before its initial presence: nobody sees a change, and it hears of its
      // contacts when it sends that presence (RFC 6121 section 4.2).
      return;
    }
    const user = await this.users.findByJid(change.session.jid);
    if (user === undefined) {
      return;
    }
    if (change.online) {
      await this.sendContactsTo(user, change.session);
    } else if (change.remaining === 0) {
      // From now on what the user receives reaches no session: offline messages. One
      // statement, one commit, with the last activity.
      await queryPrepared(
        this.dataSource.manager,
        'last-session-closed',
        `WITH offline AS (${MARK_UNDELIVERED})
         INSERT INTO last_activity (user_id, seen_at, status) VALUES ($1, now(), $3)
         ON CONFLICT (user_id) DO UPDATE SET seen_at = EXCLUDED.seen_at, status = EXCLUDED.status`,
        [user.id, offlineSinceNow(change.session.receivingSince), change.presence?.status ?? null],
      );
    } else if (change.remainingReceiving === 0 && change.session.receivingSince !== undefined) {
      // Sessions are left, but none gets messages to the bare JID (XMPP resources of negative
      // priority or not available): what the user receives from now on is offline as well.
      await this.marks.stoppedReceiving(user.id, change.session.receivingSince);
    }
    await this.broadcast(user);
  }

  /** A new session learns who of its contacts is online (RFC 6121 section 4.2.2, the server's probes). */
  private async sendContactsTo(user: UserRef, session: LocalSession): Promise<void> {
    for (const view of await this.contactsOf(user)) {
      if (view.show !== 'offline') {
        session.deliver({ event: 'presence', data: view });
      }
    }
  }

  /** Subscribed: the contact's current presence follows; unsubscribed: they look offline (RFC 6121 section 3.1.6, 3.2.3). */
  private async onSubscription(change: SubscriptionChange): Promise<void> {
    const subscriber = await this.users.findByJid(change.subscriber);
    if (subscriber === undefined) {
      return;
    }
    const view =
      change.subscribed && (await this.visibleTo(subscriber, [change.contact])).length === 1
        ? await this.viewOf(change.contact)
        : offline(change.contact);
    await this.router.deliver(subscriber.jid, { event: 'presence', data: view });
  }

  /**
   * XEP-0191 section 3.3 and 3.4: blocking makes each side look offline to
   * the other; unblocking sends the current presence where a subscription
   * allows it.
   */
  private async onBlocklist(change: BlocklistChange): Promise<void> {
    const { owner, jids, blocked } = change;
    const covered = (jid: string) =>
      jids.some((item) => item === jid || item === jid.slice(jid.indexOf('@') + 1));
    const [subscribers, subscriptions] = await Promise.all([
      this.roster.subscribersOf(owner.id),
      this.roster.subscriptionsOf(owner.id),
    ]);
    const watchers = subscribers.filter(covered);
    const watched = subscriptions.filter(covered);
    if (blocked) {
      await Promise.all([
        ...watchers.map((jid) =>
          this.router.deliver(jid, { event: 'presence', data: offline(owner.jid) }),
        ),
        ...watched.map((jid) =>
          this.router.deliver(owner.jid, { event: 'presence', data: offline(jid) }),
        ),
      ]);

      return;
    }
    const ownView = await this.viewOf(owner.jid);
    const [toWatchers, toOwner] = await Promise.all([
      this.visibleTo(owner, watchers),
      this.visibleTo(owner, watched),
    ]);
    await Promise.all([
      ...toWatchers.map((jid) => this.router.deliver(jid, { event: 'presence', data: ownView })),
      ...toOwner.map(async (jid) =>
        this.router.deliver(owner.jid, { event: 'presence', data: await this.viewOf(jid) }),
      ),
    ]);
  }

  /** Whether the user may see the presence of `jid`: subscribed, and no block either way. */
  private async mayWatch(user: UserRef, jid: string): Promise<boolean> {
    return (
      (await this.roster.receivesPresenceOf(user.id, jid)) &&
      (await this.visibleTo(user, [jid])).length === 1
    );
  }

  /** Those of `jids` that neither block the user nor are blocked by the user. */
  private async visibleTo(user: UserRef, jids: readonly string[]): Promise<string[]> {
    const own = await this.blocking.blocklistOf(user.id);
    const candidates =
      own.size === 0
        ? [...jids]
        : jids.filter((jid) => !own.has(jid) && !own.has(jid.slice(jid.indexOf('@') + 1)));
    const blockers = await this.blocking.blockersAmong(user.jid, candidates);

    return candidates.filter((jid) => !blockers.has(jid));
  }
}

/** A user's presence from their sessions: the available ones, each with its show and status. */
function viewFrom(jid: string, sessions: readonly SessionInfo[]): PresenceView {
  return aggregate(
    jid,
    sessions
      .filter((session) => session.presence?.available !== false)
      .map((session) => ({
        resource: session.resource,
        show: session.presence?.show ?? 'online',
        ...(session.presence?.status === undefined ? {} : { status: session.presence.status }),
        ...(session.presence?.extensions === undefined
          ? {}
          : { extensions: session.presence.extensions }),
      })),
  );
}
