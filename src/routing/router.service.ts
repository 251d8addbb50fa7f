import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';

import { AppConfig } from '#src/config/app-config.js';
import { MetricsService } from '#src/observability/metrics.service.js';
import { BusMessage, ClusterBus } from '#src/routing/cluster-bus.js';
import { xmppOnly, type Delivery } from '#src/routing/server-events.js';
import {
  receivesBareMessages,
  type LocalSession,
  type SessionInfo,
  type SessionPresence,
} from '#src/routing/session.js';
import { SessionRegistry } from '#src/routing/session-registry.js';

export type BusListener = (message: BusMessage) => void;

export interface PresenceChange {
  readonly jid: string;
  readonly online: boolean;
  readonly resource: string;
  readonly transport: string;
}

export type PresenceListener = (change: PresenceChange) => void;

/** Any session opening or closing here, with how many sessions the user has left on every node. */
export interface SessionChange {
  readonly session: LocalSession;
  readonly online: boolean;
  readonly remaining: number;
  /** How many of those receive every message to the user (receivesBareMessages). */
  readonly remainingReceiving: number;
  /** The presence the session had when it closed. */
  readonly presence?: SessionPresence;
}

export type SessionListener = (change: SessionChange) => void;

/**
 * Delivers events to the live sessions of a user on whichever node holds
 * them: directly to the ones here, over the cluster bus to the others.
 */
@Injectable()
export class RouterService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Router');
  private readonly local = new Map<string, Map<string, LocalSession>>();
  private readonly listeners: BusListener[] = [];
  private readonly presenceListeners: PresenceListener[] = [];
  private readonly sessionListeners: SessionListener[] = [];
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly registry: SessionRegistry,
    private readonly bus: ClusterBus,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  async onModuleInit(): Promise<void> {
    this.bus.onMessage((message) => this.onBusMessage(message));
    await this.registry.heartbeat();
    // Before any session of this node exists, so that no delivery to one skips the registry.
    await this.bus.broadcast({ kind: 'node-up', node: this.config.nodeId });
    const interval = Math.max(1000, (this.config.sessionTtlSeconds * 1000) / 3);
    this.heartbeat = setInterval(() => {
      this.registry
        .heartbeat()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'heartbeat failed'));
    }, interval).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    this.closeAllSessions('server shutting down');
    await this.registry.close();
    await this.bus.close();
  }

  /** Other parts (credential caches) listen for cluster-wide notices. */
  onNotice(listener: BusListener): void {
    this.listeners.push(listener);
  }

  /** Told when a user's first session anywhere opens and when their last one closes. */
  onPresence(listener: PresenceListener): void {
    this.presenceListeners.push(listener);
  }

  /** Told of every session that opens or closes on this node (presence broadcasts, last activity). */
  onSessionChange(listener: SessionListener): void {
    this.sessionListeners.push(listener);
  }

  /** Sets the presence of one session on any node; false when it is no longer online. */
  setPresence(session: SessionInfo, presence: SessionPresence): Promise<boolean> {
    return this.registry.setPresence(session, presence);
  }

  async notifyAll(message: BusMessage): Promise<void> {
    await this.bus.broadcast(message);
  }

  async attach(session: LocalSession): Promise<void> {
    let sessions = this.local.get(session.jid);
    if (sessions === undefined) {
      sessions = new Map();
      this.local.set(session.jid, sessions);
    }
    sessions.set(session.id, session);
    this.metrics.sessionsOnline.inc({ transport: session.transport });
    await this.registry.register(toInfo(session));
    await this.announcePresence(session, true);
  }

  async detach(session: LocalSession): Promise<void> {
    const sessions = this.local.get(session.jid);
    if (sessions?.delete(session.id) !== true) {
      return;
    }
    if (sessions.size === 0) {
      this.local.delete(session.jid);
    }
    this.metrics.sessionsOnline.dec({ transport: session.transport });
    const stored =
      this.sessionListeners.length === 0 ? undefined : await this.registry.find(session.id);
    await this.registry.unregister(toInfo(session));
    await this.announcePresence(session, false, stored?.presence);
  }

  private async announcePresence(
    session: LocalSession,
    online: boolean,
    presence?: SessionPresence,
  ): Promise<void> {
    if (this.presenceListeners.length === 0 && this.sessionListeners.length === 0) {
      return;
    }
    const sessions = await this.registry.sessionsOf(session.jid);
    const remaining = sessions.length;
    const change: SessionChange = {
      session,
      online,
      remaining,
      remainingReceiving: sessions.filter(receivesBareMessages).length,
      ...(presence === undefined ? {} : { presence }),
    };
    this.sessionListeners.forEach((listener) => listener(change));
    if (online ? remaining === 1 : remaining === 0) {
      const edge = {
        jid: session.jid,
        online,
        resource: session.resource,
        transport: session.transport,
      };
      this.presenceListeners.forEach((listener) => listener(edge));
    }
  }

  /**
   * Sends one event, or several in order, to every session of `jid` except
   * `exceptSession`, here and on other nodes (one registry lookup for all).
   */
  async deliver(
    jid: string,
    delivery: Delivery | readonly Delivery[],
    exceptSession?: string,
  ): Promise<void> {
    await this.deliverNow(jid, Array.isArray(delivery) ? delivery : [delivery], exceptSession);
  }

  /**
   * `deliver` for the send path: the sessions here get the events before it
   * returns, and a promise comes back only when other nodes may hold
   * sessions of `jid`, so a single node allocates none per message.
   */
  deliverNow(
    jid: string,
    deliveries: readonly Delivery[],
    exceptSession?: string,
  ): Promise<void> | undefined {
    this.deliverLocally(jid, deliveries, exceptSession);

    return this.registry.hasPeers()
      ? this.deliverRemotely(jid, deliveries, exceptSession)
      : undefined;
  }

  /**
   * Whether `deliver` to `jid` may reach any session but `exceptSession`:
   * false only when no other node exists and none is here, so that a caller
   * can skip building events nobody would get.
   */
  mayReach(jid: string, exceptSession?: string): boolean {
    if (this.registry.hasPeers()) {
      return true;
    }
    const sessions = this.local.get(jid);

    return (
      sessions !== undefined &&
      (sessions.size > 1 || exceptSession === undefined || !sessions.has(exceptSession))
    );
  }

  private async deliverRemotely(
    jid: string,
    deliveries: readonly Delivery[],
    exceptSession?: string,
  ): Promise<void> {
    const remoteNodes = new Set(
      (await this.registry.sessionsOf(jid)).map((session) => session.node),
    );
    remoteNodes.delete(this.config.nodeId);
    await Promise.all(
      [...remoteNodes].map((node) =>
        this.bus.sendToNode(node, { kind: 'deliver', jid, deliveries, exceptSession }),
      ),
    );
  }

  /**
   * Sends one event to every session of each of many users (a room's
   * members): local sessions at once, then one registry round trip for all
   * of them and one bus message per other node that holds any.
   */
  async deliverToEach(
    jids: readonly string[],
    delivery: Delivery,
    exceptSession?: string,
  ): Promise<void> {
    jids.forEach((jid) => this.deliverLocally(jid, [delivery], exceptSession));
    if (!this.registry.hasPeers() || jids.length === 0) {
      return;
    }
    const byNode = new Map<string, Set<string>>();
    const sessions = await this.registry.sessionsOfEach(jids);
    sessions.flat().forEach((session) => {
      if (session.node !== this.config.nodeId) {
        byNode.set(session.node, (byNode.get(session.node) ?? new Set()).add(session.jid));
      }
    });
    await Promise.all(
      [...byNode].map(([node, users]) =>
        this.bus.sendToNode(node, {
          kind: 'deliver-each',
          jids: [...users],
          delivery,
          exceptSession,
        }),
      ),
    );
  }

  sessionsOf(jid: string): Promise<SessionInfo[]> {
    return this.registry.sessionsOf(jid);
  }

  sessionsOfDomain(domain: string): Promise<SessionInfo[]> {
    return this.registry.sessionsOfDomain(domain);
  }

  /** Ends a session wherever it is; false when no such session is online. */
  async kick(sessionId: string, reason: string): Promise<boolean> {
    const session = await this.registry.find(sessionId);
    if (session === undefined) {
      return false;
    }
    if (session.node === this.config.nodeId) {
      this.kickLocally(sessionId, reason);
    } else {
      await this.bus.sendToNode(session.node, { kind: 'kick', sessionId, reason });
    }

    return true;
  }

  /** Closes every local session of a user (after a password change or deletion). */
  closeSessionsOf(jid: string, reason: string): void {
    for (const session of [...(this.local.get(jid)?.values() ?? [])]) {
      session.close(reason);
    }
  }

  private closeSessionsOfDomain(domain: string, reason: string): void {
    for (const [jid, sessions] of [...this.local]) {
      if (jid.endsWith(`@${domain}`)) {
        [...sessions.values()].forEach((session) => session.close(reason));
      }
    }
  }

  private deliverLocally(
    jid: string,
    deliveries: readonly Delivery[],
    exceptSession?: string,
  ): void {
    const sessions = this.local.get(jid);
    if (sessions === undefined) {
      return;
    }
    for (const session of sessions.values()) {
      if (session.id === exceptSession) {
        continue;
      }
      const taken =
        session.transport !== 'xmpp' && deliveries.some(xmppOnly)
          ? deliveries.filter((delivery) => !xmppOnly(delivery))
          : deliveries;
      if (session.deliverAll !== undefined && taken.length > 1) {
        session.deliverAll(taken);
      } else {
        taken.forEach((delivery) => session.deliver(delivery));
      }
      for (const delivery of taken) {
        this.metrics.deliveries.inc(session.transport, delivery.event);
      }
    }
  }

  private kickLocally(sessionId: string, reason: string): void {
    for (const sessions of this.local.values()) {
      sessions.get(sessionId)?.close(reason);
    }
  }

  /** Ends every session held here, telling each client why. */
  closeAllSessions(reason: string): void {
    for (const sessions of [...this.local.values()]) {
      for (const session of [...sessions.values()]) {
        session.close(reason);
      }
    }
  }

  private onBusMessage(message: BusMessage): void {
    switch (message.kind) {
      case 'deliver':
        this.deliverLocally(message.jid, message.deliveries, message.exceptSession);
        break;
      case 'deliver-each':
        message.jids.forEach((jid) =>
          this.deliverLocally(jid, [message.delivery], message.exceptSession),
        );
        break;
      case 'kick':
        this.kickLocally(message.sessionId, message.reason);
        break;
      case 'credentials-changed':
        this.closeSessionsOf(message.jid, 'credentials changed');
        break;
      case 'domain-changed':
        if (!message.usable) {
          this.closeSessionsOfDomain(message.domain, 'domain disabled or removed');
        }
        break;
      case 'node-up':
        this.registry.notePeer(message.node);
        break;
      case 'token-revoked':
      case 'webhooks-changed':
      case 'blocks-changed':
      case 'muc-presence':
        break;
    }
    for (const listener of this.listeners) {
      listener(message);
    }
  }
}

function toInfo(session: LocalSession): SessionInfo {
  return {
    id: session.id,
    jid: session.jid,
    resource: session.resource,
    transport: session.transport,
    node: session.node,
    connectedAt: session.connectedAt,
    ...(session.address === undefined ? {} : { address: session.address }),
    ...(session.presence === undefined ? {} : { presence: session.presence }),
  };
}
