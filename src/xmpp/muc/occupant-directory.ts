import type { Redis } from 'ioredis';

/** One XMPP session in a room (XEP-0045 section 7.2): transient, like presence. */
export interface OccupantEntry {
  readonly sessionId: string;
  /** The user's bare JID. */
  readonly jid: string;
  readonly fullJid: string;
  readonly nick: string;
  readonly node: string;
  readonly show?: string;
  readonly status?: string;
}

/**
 * Who is in which room over XMPP, on every node: in process for one node,
 * in Redis for a cluster. A nickname belongs to one bare JID at a time; the
 * same user may be in the room from several resources under it. Entries of
 * a node that dies without shutting down stay until their users rejoin or
 * leave (the registry of sessions has the same window).
 */
export abstract class OccupantDirectory {
  /** Takes `nick` for `jid`; false when another JID holds it. */
  abstract claimNick(room: string, nick: string, jid: string): Promise<boolean>;
  /** Gives `nick` back if `jid` holds it. */
  abstract releaseNick(room: string, nick: string, jid: string): Promise<void>;
  abstract put(room: string, entry: OccupantEntry): Promise<void>;
  abstract remove(room: string, sessionId: string): Promise<void>;
  abstract list(room: string): Promise<OccupantEntry[]>;
}

export class MemoryOccupantDirectory extends OccupantDirectory {
  private readonly nicks = new Map<string, Map<string, string>>();
  private readonly sessions = new Map<string, Map<string, OccupantEntry>>();

  async claimNick(room: string, nick: string, jid: string): Promise<boolean> {
    const nicks = this.nicks.get(room) ?? new Map<string, string>();
    this.nicks.set(room, nicks);
    const holder = nicks.get(nick);
    if (holder !== undefined && holder !== jid) {
      return false;
    }
    nicks.set(nick, jid);

    return true;
  }

  async releaseNick(room: string, nick: string, jid: string): Promise<void> {
    const nicks = this.nicks.get(room);
    if (nicks?.get(nick) === jid) {
      nicks.delete(nick);
    }
    if (nicks?.size === 0) {
      this.nicks.delete(room);
    }
  }

  async put(room: string, entry: OccupantEntry): Promise<void> {
    const sessions = this.sessions.get(room) ?? new Map<string, OccupantEntry>();
    this.sessions.set(room, sessions);
    sessions.set(entry.sessionId, entry);
  }

  async remove(room: string, sessionId: string): Promise<void> {
    const sessions = this.sessions.get(room);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) {
      this.sessions.delete(room);
    }
  }

  async list(room: string): Promise<OccupantEntry[]> {
    return [...(this.sessions.get(room)?.values() ?? [])];
  }
}

/** Deletes a hash field only while it still holds the expected value. */
const RELEASE = `if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('hdel', KEYS[1], ARGV[1]) end return 0`;

/** Two hashes per room: nickname to bare JID, and session id to entry. */
export class RedisOccupantDirectory extends OccupantDirectory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    super();
  }

  async claimNick(room: string, nick: string, jid: string): Promise<boolean> {
    const key = this.key(room, 'nicks');
    if ((await this.redis.hsetnx(key, nick, jid)) === 1) {
      return true;
    }

    return (await this.redis.hget(key, nick)) === jid;
  }

  async releaseNick(room: string, nick: string, jid: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(room, 'nicks'), nick, jid);
  }

  async put(room: string, entry: OccupantEntry): Promise<void> {
    await this.redis.hset(this.key(room, 'sessions'), entry.sessionId, JSON.stringify(entry));
  }

  async remove(room: string, sessionId: string): Promise<void> {
    await this.redis.hdel(this.key(room, 'sessions'), sessionId);
  }

  async list(room: string): Promise<OccupantEntry[]> {
    const values = await this.redis.hvals(this.key(room, 'sessions'));

    return values.map((value) => JSON.parse(value) as OccupantEntry);
  }

  private key(room: string, kind: 'nicks' | 'sessions'): string {
    return `${this.prefix}muc:${room}:${kind}`;
  }
}
