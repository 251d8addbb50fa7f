import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';

import type { Delivery } from '#src/routing/server-events.js';

/** What nodes tell each other. */
export type BusMessage =
  | {
      readonly kind: 'deliver';
      readonly jid: string;
      readonly deliveries: readonly Delivery[];
      readonly exceptSession?: string;
    }
  | {
      readonly kind: 'deliver-each';
      readonly jids: readonly string[];
      readonly delivery: Delivery;
      readonly exceptSession?: string;
    }
  | { readonly kind: 'kick'; readonly sessionId: string; readonly reason: string }
  | { readonly kind: 'credentials-changed'; readonly jid: string }
  | { readonly kind: 'domain-changed'; readonly domain: string; readonly usable: boolean }
  | { readonly kind: 'token-revoked'; readonly tokenHash: string }
  | { readonly kind: 'webhooks-changed' }
  | { readonly kind: 'blocks-changed'; readonly ownerId: string }
  /** A node started and may soon hold sessions. */
  | { readonly kind: 'node-up'; readonly node: string }
  | { readonly kind: 'muc-presence'; readonly presence: MucPresenceNotice };

/**
 * An XMPP room occupant came, changed or went (XEP-0045): every node with
 * occupants of the room renders it to them. Transient, like presence.
 */
export interface MucPresenceNotice {
  readonly room: string;
  readonly nick: string;
  /** The occupant's bare JID. */
  readonly jid: string;
  readonly affiliation: 'owner' | 'member';
  readonly available: boolean;
  readonly show?: string;
  readonly status?: string;
  /** Status codes for the occupant's own sessions (110 is added for them). */
  readonly selfCodes?: readonly number[];
  /** Status codes for everyone (303 with `newNick` for a nickname change). */
  readonly codes?: readonly number[];
  readonly newNick?: string;
}

export type BusHandler = (message: BusMessage) => void;

/** Carries messages between server nodes: to one node, or to all. */
export abstract class ClusterBus {
  protected handler: BusHandler = () => undefined;

  onMessage(handler: BusHandler): void {
    this.handler = handler;
  }

  abstract sendToNode(node: string, message: BusMessage): Promise<void>;
  /**
   * To every node. This node handles the message before the promise settles,
   * so a caller that awaits it (a password change) never races its own cache.
   */
  abstract broadcast(message: BusMessage): Promise<void>;
  abstract close(): Promise<void>;
}

/** A single node: broadcasts loop back, and there is no other node to send to. */
export class LocalClusterBus extends ClusterBus {
  async sendToNode(): Promise<void> {}

  async broadcast(message: BusMessage): Promise<void> {
    this.handler(message);
  }

  async close(): Promise<void> {}
}

/** What travels on a channel: the message and the node it came from. */
interface Envelope {
  readonly from: string;
  readonly message: BusMessage;
}

/** Redis pub/sub: a channel per node and one for everyone. */
export class RedisClusterBus extends ClusterBus {
  private readonly logger = new Logger('ClusterBus');

  private constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly node: string,
    private readonly prefix: string,
  ) {
    super();
  }

  static async connect(
    publisher: Redis,
    subscriber: Redis,
    node: string,
    prefix: string,
  ): Promise<RedisClusterBus> {
    const bus = new RedisClusterBus(publisher, subscriber, node, prefix);
    subscriber.on('messageBuffer', (_channel: Buffer, payload: Buffer) => bus.receive(payload));
    await subscriber.connect();
    await subscriber.subscribe(bus.nodeChannel(node), bus.broadcastChannel);

    return bus;
  }

  async sendToNode(node: string, message: BusMessage): Promise<void> {
    await this.publisher.publish(this.nodeChannel(node), this.wrap(message));
  }

  async broadcast(message: BusMessage): Promise<void> {
    this.handler(message);
    await this.publisher.publish(this.broadcastChannel, this.wrap(message));
  }

  private wrap(message: BusMessage): string {
    const envelope: Envelope = { from: this.node, message };

    return JSON.stringify(envelope);
  }

  private get broadcastChannel(): string {
    return `${this.prefix}bus:all`;
  }

  private nodeChannel(node: string): string {
    return `${this.prefix}bus:node:${node}`;
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private receive(payload: Buffer): void {
    try {
      const envelope = JSON.parse(payload.toString('utf8')) as Envelope;
      // A broadcast of ours was handled here when it was sent.
      if (envelope.from !== this.node) {
        this.handler(envelope.message);
      }
    } catch (error: unknown) {
      this.logger.error({ err: error, node: this.node }, 'cluster bus message dropped');
    }
  }
}
