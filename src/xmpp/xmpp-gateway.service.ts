import { createHash, randomBytes } from 'node:crypto';

import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';

import { DomainsService } from '#src/accounts/domains.service.js';
import { AppConfig } from '#src/config/app-config.js';
import { RouterService } from '#src/routing/router.service.js';
import { IqDispatcher } from '#src/xmpp/handlers/iq-dispatcher.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import { SaslAuthenticator } from '#src/xmpp/sasl/sasl-authenticator.service.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StreamResumption } from '#src/xmpp/stream/stream-management.js';
import { TrafficShaper } from '#src/xmpp/stream/traffic-shaper.js';
import type { StreamTransport } from '#src/xmpp/stream/transport.js';
import { XmppStream } from '#src/xmpp/stream/xmpp-stream.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { IdleRelease } from '#src/xmpp/xml/idle-release.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** How long a stream may take from connecting to binding a resource. */
const NEGOTIATION_TIMEOUT_MS = 60_000;
export const CAPS_NODE = 'https://relay.invalid/caps';
/**
 * A stream parser without input for one to two ticks of this lets go of its parse state: soon
 * enough after a login that the state mostly dies young instead of being promoted to the old
 * generation; a stream reading more often than this keeps it.
 */
const PARSER_IDLE_TICK_MS = 100;

/**
 * A bound session ended; `firstUnacknowledged` is the archive id of the
 * first message with a body it was sent and never acknowledged (XEP-0198).
 */
export type SessionEndListener = (session: XmppSession, firstUnacknowledged?: string) => void;

/**
 * The gateway's shared state: every open stream (for shutdown and the one
 * idle sweep), the bound sessions of this node by user (for presence to a
 * user's own resources), the traffic shaper, and the services streams use.
 */
@Injectable()
export class XmppGateway implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('XmppGateway');
  private readonly streams = new Set<XmppStream>();
  private readonly byUser = new Map<string, Set<XmppSession>>();
  readonly shaper: TrafficShaper;
  readonly resumption: StreamResumption;
  /** Idle streams' parse state, released by one timer (src/xmpp/xml/idle-release.ts). */
  readonly parserRelease = new IdleRelease(PARSER_IDLE_TICK_MS);
  private sweeper?: NodeJS.Timeout;
  private pingCounter = 0;
  private caps?: XmlElement;
  private readonly endListeners: SessionEndListener[] = [];

  constructor(
    readonly config: AppConfig,
    readonly domains: DomainsService,
    readonly sasl: SaslAuthenticator,
    readonly router: RouterService,
    readonly handlers: XmppHandlerRegistry,
    readonly iq: IqDispatcher,
  ) {
    this.shaper = new TrafficShaper(config.xmpp.rateBytesPerSecond, config.xmpp.rateBurstBytes);
    this.resumption = new StreamResumption(
      {
        resumeTimeoutSeconds: config.xmpp.smResumeTimeoutSeconds,
        maxUnacked: config.xmpp.smMaxUnacked,
      },
      (session) => this.endSession(session),
    );
  }

  onModuleInit(): void {
    // One timer for every stream: ping the idle, close the silent (XEP-0199 section 4.2).
    const every = Math.max(
      1000,
      Math.min(NEGOTIATION_TIMEOUT_MS, this.config.xmpp.pingIntervalMs) / 4,
    );
    this.sweeper = setInterval(() => this.sweep(), every).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
    this.shaper.close();
    this.parserRelease.close();
    this.closeAll();
  }

  closeAll(): void {
    for (const stream of [...this.streams]) {
      stream.fail('system-shutdown');
    }
  }

  open(transport: StreamTransport): XmppStream {
    const stream = new XmppStream(transport, this);
    this.streams.add(stream);

    return stream;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  async attach(session: XmppSession): Promise<void> {
    let sessions = this.byUser.get(session.jid);
    if (sessions === undefined) {
      sessions = new Set();
      this.byUser.set(session.jid, sessions);
    }
    sessions.add(session);
    await this.router.attach(session);
  }

  /** Told of every bound session that ends, before it leaves the router (directed presence, offline marks). */
  onSessionEnd(listener: SessionEndListener): void {
    this.endListeners.push(listener);
  }

  /**
   * A stream ended: its session leaves the router, whose presence service
   * tells who sees it go; unless the connection was `lost` and the session
   * waits for resumption (XEP-0198), bound and routed to meanwhile.
   */
  forget(stream: XmppStream, lost = false): void {
    this.streams.delete(stream);
    const session = stream.session;
    if (session === undefined || (lost && this.resumption.hibernate(session))) {
      return;
    }
    this.endSession(session);
  }

  /** A bound session ends for good; idempotent. */
  endSession(session: XmppSession): void {
    const sessions = this.byUser.get(session.jid);
    if (sessions?.delete(session) !== true) {
      return;
    }
    if (sessions.size === 0) {
      this.byUser.delete(session.jid);
    }
    const firstUnacknowledged = this.resumption.ended(session);
    this.endListeners.forEach((listener) => listener(session, firstUnacknowledged));
    this.router
      .detach(session)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'detach failed'));
  }

  /** This node's bound sessions of a user. */
  sessionsOf(jid: string): readonly XmppSession[] {
    return [...(this.byUser.get(jid) ?? [])];
  }

  /** XEP-0115 caps: a hash over exactly the identities and features the server lists. */
  capsElement(): XmlElement {
    if (this.caps === undefined) {
      const features = this.handlers.featuresOf('server');
      const text = `server/im//relay<${features.map((name) => `${name}<`).join('')}`;
      const ver = createHash('sha1').update(text).digest('base64');
      this.caps = el('c', NS.caps, { hash: 'sha-1', node: CAPS_NODE, ver });
    }

    return this.caps;
  }

  private sweep(now = Date.now()): void {
    const interval = this.config.xmpp.pingIntervalMs;
    for (const stream of this.streams) {
      if (stream.session === undefined) {
        if (now - stream.openedAt > NEGOTIATION_TIMEOUT_MS) {
          stream.fail('connection-timeout', 'no resource bound in time');
        }
      } else if (stream.pendingPing !== undefined) {
        if (stream.lastInput > stream.pendingPing.at) {
          stream.pendingPing = undefined;
        } else if (now - stream.pendingPing.at > interval) {
          stream.fail('connection-timeout', 'no answer to ping');
        }
      } else if (now - stream.lastInput > interval) {
        const id = `ping-${(this.pingCounter += 1)}-${randomBytes(3).toString('hex')}`;
        stream.pendingPing = { id, at: now };
        stream.send(
          el(
            'iq',
            NS.client,
            {
              type: 'get',
              id,
              from: stream.session.jid.slice(stream.session.jid.indexOf('@') + 1),
              to: stream.session.fullJid,
            },
            el('ping', NS.ping),
          ),
        );
      }
    }
  }
}
