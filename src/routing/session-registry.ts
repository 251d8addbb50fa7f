import type { Redis } from 'ioredis';

import type { SessionInfo, SessionPresence } from '#src/routing/session.js';

/**
 * Who is online where. Transient: it rebuilds itself as clients reconnect,
 * so it needs no backup. In process for one node, in Redis for a cluster.
 */
export abstract class SessionRegistry {
  abstract register(session: SessionInfo): Promise<void>;
  abstract unregister(session: SessionInfo): Promise<void>;
  /** The sessions of a bare JID, leaving out those of nodes known to be dead. */
  abstract sessionsOf(jid: string): Promise<SessionInfo[]>;
  /** The sessions of each of many bare JIDs, in their order, in one round trip. */
  abstract sessionsOfEach(jids: readonly string[]): Promise<SessionInfo[][]>;
  abstract sessionsOfDomain(domain: string): Promise<SessionInfo[]>;
  abstract find(sessionId: string): Promise<SessionInfo | undefined>;
  /** Sets a session's presence; false when the session is gone (it is never brought back). */
  abstract setPresence(session: SessionInfo, presence: SessionPresence): Promise<boolean>;
  /** Marks this node alive and forgets the sessions of nodes that stopped doing so. */
  abstract heartbeat(): Promise<void>;
  abstract close(): Promise<void>;

  /**
   * Whether another live node may hold sessions. When none does, a delivery
   * needs no registry round trip to find other nodes.
   */
  hasPeers(): boolean {
    return false;
  }

  /** Another node announced itself; it counts as live until its heartbeat lapses. */
  notePeer(node: string): void {
    void node;
  }
}

export class MemorySessionRegistry extends SessionRegistry {
  private readonly byId = new Map<string, SessionInfo>();
  /** Indexed by user, because every connect and disconnect asks for a user's sessions. */
  private readonly byJid = new Map<string, Map<string, SessionInfo>>();

  async register(session: SessionInfo): Promise<void> {
    this.byId.set(session.id, session);
    let sessions = this.byJid.get(session.jid);
    if (sessions === undefined) {
      sessions = new Map();
      this.byJid.set(session.jid, sessions);
    }
    sessions.set(session.id, session);
  }

  async unregister(session: SessionInfo): Promise<void> {
    this.byId.delete(session.id);
    const sessions = this.byJid.get(session.jid);
    sessions?.delete(session.id);
    if (sessions?.size === 0) {
      this.byJid.delete(session.jid);
    }
  }

  async sessionsOf(jid: string): Promise<SessionInfo[]> {
    return [...(this.byJid.get(jid)?.values() ?? [])];
  }

  async sessionsOfEach(jids: readonly string[]): Promise<SessionInfo[][]> {
    return jids.map((jid) => [...(this.byJid.get(jid)?.values() ?? [])]);
  }

  async sessionsOfDomain(domain: string): Promise<SessionInfo[]> {
    return [...this.byId.values()].filter((session) => domainOf(session.jid) === domain);
  }

  async find(sessionId: string): Promise<SessionInfo | undefined> {
    return this.byId.get(sessionId);
  }

  async setPresence(session: SessionInfo, presence: SessionPresence): Promise<boolean> {
    const current = this.byId.get(session.id);
    if (current === undefined) {
      return false;
    }
    const updated = { ...current, presence };
    this.byId.set(session.id, updated);
    this.byJid.get(session.jid)?.set(session.id, updated);

    return true;
  }

  async heartbeat(): Promise<void> {}

  async close(): Promise<void> {
    this.byId.clear();
    this.byJid.clear();
  }
}

/**
 * Keys, after REDIS_KEY_PREFIX:
 * - `sessions:{jid}`: hash of session id to session JSON
 * - `domain-sessions:{domain}`: hash of session id to bare JID
 * - `node-sessions:{node}`: set of `jid session-id`, to clean up after a dead node
 * - `session-index`: hash of session id to bare JID
 * - `nodes`: sorted set of node to last heartbeat (epoch ms)
 */
export class RedisSessionRegistry extends SessionRegistry {
  /** Nodes whose heartbeat has lapsed; a node not heard of yet counts as alive. */
  private deadNodes = new Set<string>();
  /** Other nodes with a heartbeat in time, or announced since the last one. */
  private peers = new Set<string>();

  private readonly keys: RegistryKeys;

  constructor(
    private readonly redis: Redis,
    private readonly node: string,
    private readonly ttlMs: number,
    prefix: string,
  ) {
    super();
    this.keys = registryKeys(prefix);
  }

  // One script each, atomic as a MULTI would be: a client-side MULTI builds a pipeline object and a
  // command object per step, held until Redis answers, which every login and logout would pay for.
  async register(session: SessionInfo): Promise<void> {
    await this.redis.eval(
      REGISTER,
      4,
      this.keys.sessions(session.jid),
      this.keys.domain(domainOf(session.jid)),
      this.keys.node(session.node),
      this.keys.index,
      session.id,
      JSON.stringify(session),
      session.jid,
      `${session.jid} ${session.id}`,
    );
  }

  async unregister(session: SessionInfo): Promise<void> {
    await this.redis.eval(
      UNREGISTER,
      4,
      this.keys.sessions(session.jid),
      this.keys.domain(domainOf(session.jid)),
      this.keys.node(session.node),
      this.keys.index,
      session.id,
      `${session.jid} ${session.id}`,
    );
  }

  async sessionsOf(jid: string): Promise<SessionInfo[]> {
    const values = await this.redis.hvals(this.keys.sessions(jid));

    return values
      .map((value) => JSON.parse(value) as SessionInfo)
      .filter((session) => !this.deadNodes.has(session.node));
  }

  async sessionsOfEach(jids: readonly string[]): Promise<SessionInfo[][]> {
    if (jids.length === 0) {
      return [];
    }
    const pipeline = this.redis.pipeline();
    jids.forEach((jid) => pipeline.hvals(this.keys.sessions(jid)));
    const replies = (await pipeline.exec()) ?? [];

    return jids.map((_jid, index) => {
      const [error, values] = replies[index] ?? [new Error('no reply from redis'), []];
      if (error !== null) {
        throw error;
      }

      return (values as string[])
        .map((value) => JSON.parse(value) as SessionInfo)
        .filter((session) => !this.deadNodes.has(session.node));
    });
  }

  async sessionsOfDomain(domain: string): Promise<SessionInfo[]> {
    const jids = new Set(await this.redis.hvals(this.keys.domain(domain)));
    const perUser = await Promise.all([...jids].map((jid) => this.sessionsOf(jid)));

    return perUser.flat();
  }

  async find(sessionId: string): Promise<SessionInfo | undefined> {
    const jid = await this.redis.hget(this.keys.index, sessionId);

    return jid === null
      ? undefined
      : (await this.sessionsOf(jid)).find((session) => session.id === sessionId);
  }

  async setPresence(session: SessionInfo, presence: SessionPresence): Promise<boolean> {
    const key = this.keys.sessions(session.jid);
    const current = await this.redis.hget(key, session.id);
    if (current === null) {
      return false;
    }
    const updated = JSON.stringify({ ...(JSON.parse(current) as SessionInfo), presence });
    // Written only while the session is still registered: a disconnect in between wins.
    const written = await this.redis.eval(SET_IF_PRESENT, 1, key, session.id, updated);

    return written === 1;
  }

  async heartbeat(): Promise<void> {
    const now = Date.now();
    await this.redis.zadd(this.keys.nodes, now, this.node);
    const dead = (
      await this.redis.zrangebyscore(this.keys.nodes, '-inf', `(${now - this.ttlMs}`)
    ).filter((node) => node !== this.node);
    this.deadNodes = new Set(dead);
    const live = await this.redis.zrangebyscore(this.keys.nodes, now - this.ttlMs, '+inf');
    this.peers = new Set(live.filter((node) => node !== this.node));
    await Promise.all(dead.map((node) => this.forgetNode(node)));
  }

  override hasPeers(): boolean {
    return this.peers.size > 0;
  }

  override notePeer(node: string): void {
    if (node !== this.node) {
      this.peers.add(node);
      this.deadNodes.delete(node);
    }
  }

  async close(): Promise<void> {
    await this.forgetNode(this.node);
  }

  /** Removes every session a node held; only one node wins the claim, so the work is done once. */
  private async forgetNode(node: string): Promise<void> {
    const claimed = await this.redis.set(this.keys.forget(node), this.node, 'PX', this.ttlMs, 'NX');
    if (claimed === null && node !== this.node) {
      return;
    }
    const members = await this.redis.smembers(this.keys.node(node));
    const pipeline = this.redis.multi();
    for (const member of members) {
      const [jid, sessionId] = member.split(' ') as [string, string];
      pipeline
        .hdel(this.keys.sessions(jid), sessionId)
        .hdel(this.keys.domain(domainOf(jid)), sessionId)
        .hdel(this.keys.index, sessionId);
    }
    await pipeline.del(this.keys.node(node)).zrem(this.keys.nodes, node).exec();
  }
}

/** A session into its user's hash, its domain's, its node's set and the index (keys as register passes them). */
const REGISTER = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return 1`;

/** The inverse of REGISTER. */
const UNREGISTER = `redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`;

/** HSET only when the field exists. */
const SET_IF_PRESENT = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0`;

function domainOf(jid: string): string {
  return jid.slice(jid.indexOf('@') + 1);
}

interface RegistryKeys {
  readonly nodes: string;
  readonly index: string;
  sessions(jid: string): string;
  domain(domain: string): string;
  node(node: string): string;
  forget(node: string): string;
}

function registryKeys(prefix: string): RegistryKeys {
  return {
    nodes: `${prefix}nodes`,
    index: `${prefix}session-index`,
    sessions: (jid) => `${prefix}sessions:${jid}`,
    domain: (domain) => `${prefix}domain-sessions:${domain}`,
    node: (node) => `${prefix}node-sessions:${node}`,
    forget: (node) => `${prefix}forget:${node}`,
  };
}
