import { randomBytes } from 'node:crypto';

import { Logger } from '@nestjs/common';

import type { UserRef } from '#src/accounts/users.service.js';
import { isMessageId } from '#src/common/ids.js';
import type { SessionStream, XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StreamError, type StreamCondition } from '#src/xmpp/stream/errors.js';
import type { TransportKind } from '#src/xmpp/stream/transport.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** 'h' and the send count are unsigned 32-bit counters that wrap (XEP-0198 section 4). */
const U32 = 2 ** 32;
/** The server asks for an ack once this many stanzas went out since it last asked... */
const REQUEST_ACK_EVERY = 10;
/** ...or this long after the first stanza it has not asked about. */
const REQUEST_ACK_AFTER_MS = 1000;
const STANZAS = new Set(['message', 'presence', 'iq']);

const logger = new Logger('XmppStreamManagement');

/** What stream management needs of the live stream that carries a session. */
export interface SmStream extends SessionStream {
  readonly id: string;
  readonly transportKind: TransportKind;
  /** The authenticated user; undefined before SASL success. */
  readonly authenticatedUser: UserRef | undefined;
  readonly session?: XmppSession;
  readonly closed: boolean;
  /** Writes an element as is: a nonza, or a stanza that is already counted. */
  write(element: XmlElement): void;
  fail(condition: StreamCondition, text?: string, appCondition?: XmlElement): void;
  /** Takes over a resumed session: the stream is bound to it from here on. */
  adopt(session: XmppSession): void;
  /**
   * Ends this stream for a resumption elsewhere, keeping its session; resolves
   * once the stanzas it was processing are done (and counted).
   */
  release(): Promise<void>;
}

export function isStanza(element: XmlElement): boolean {
  return element.ns === NS.client && STANZAS.has(element.name);
}

function count(value: number): number {
  return ((value % U32) + U32) % U32;
}

/** A counter value as XEP-0198 writes it: a decimal unsigned 32-bit integer. */
function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,10}$/.test(text)) {
    return undefined;
  }
  const value = Number(text);

  return value < U32 ? value : undefined;
}

function failed(condition: string, attrs: Record<string, string | undefined> = {}): XmlElement {
  return el('failed', NS.sm, attrs, el(condition, NS.stanzaErrors));
}

/**
 * One session's stream management state (XEP-0198), kept across
 * resumptions: how many stanzas the client sent that were handled, and the
 * stanzas sent to it that it has not acknowledged, in order. While the
 * session waits for resumption it is its session's stream: what it is sent
 * is queued and counted as if written.
 */
export class StreamManagement implements SessionStream {
  /** Stanzas from the client handled so far ('h' of our acks). */
  inbound = 0;
  /** Stanzas sent to the client, written or queued. */
  private sent = 0;
  /** The client's last 'h'. */
  private acked = 0;
  private readonly queue: XmlElement[] = [];
  private askedAt = 0;
  private asking = false;
  private askTimer?: NodeJS.Timeout;
  /** The stream carrying the session; undefined while it waits for resumption. */
  live?: SmStream;
  resumeTimer?: NodeJS.Timeout;
  resuming = false;
  ended = false;

  constructor(
    /** The resumption id; undefined when the client did not ask for resumption. */
    readonly id: string | undefined,
    /** How long the session waits for resumption, in seconds. */
    readonly maxSeconds: number,
    private readonly maxUnacked: number,
    /** Called when the unacknowledged stanzas pass the bound. */
    private readonly overflow: () => void,
  ) {}

  get unacked(): readonly XmlElement[] {
    return this.queue;
  }

  /** A stanza from the client was handled. */
  handled(): void {
    this.inbound = count(this.inbound + 1);
  }

  /** A stanza went to the client, or to the queue while it is away: kept until acknowledged. */
  outbound(element: XmlElement): void {
    if (!isStanza(element) || this.ended) {
      return;
    }
    this.queue.push(element);
    this.sent = count(this.sent + 1);
    if (this.queue.length > this.maxUnacked) {
      this.overflow();

      return;
    }
    this.maybeAsk();
  }

  /** SessionStream, while waiting for resumption: queued and counted. */
  send(element: XmlElement): void {
    this.outbound(element);
  }

  /** SessionStream, while waiting for resumption: no stream reads on, so the work is simply awaited. */
  pipeline(work: Promise<void>): Promise<void> {
    return work;
  }

  /** SessionStream, while waiting for resumption: the session ends (kick, conflict, shutdown). */
  fail(): void {
    // With no live stream, the bound's handler ends the session.
    this.overflow();
  }

  /**
   * The client acknowledged `h` stanzas: those leave the queue. False when
   * it acknowledges more than were sent (XEP-0198 section 4).
   */
  ack(h: number): boolean {
    const acknowledged = count(h - this.acked);
    if (acknowledged > this.queue.length) {
      return false;
    }
    this.queue.splice(0, acknowledged);
    this.acked = h;
    this.asking = false;
    this.maybeAsk();

    return true;
  }

  get sendCount(): number {
    return this.sent;
  }

  /** Asks the live stream's client for an ack: every few stanzas, or soon after the last one. */
  private maybeAsk(): void {
    if (this.live === undefined || this.asking || this.queue.length === 0) {
      return;
    }
    if (count(this.sent - this.askedAt) >= REQUEST_ACK_EVERY) {
      this.ask();
    } else {
      this.askTimer ??= setTimeout(() => {
        this.askTimer = undefined;
        if (!this.asking && this.queue.length > 0) {
          this.ask();
        }
      }, REQUEST_ACK_AFTER_MS).unref();
    }
  }

  private ask(): void {
    const live = this.live;
    if (live === undefined || live.closed) {
      return;
    }
    this.asking = true;
    this.askedAt = this.sent;
    live.write(el('r', NS.sm));
  }

  /** Carried by `stream` from now on: what it has not acknowledged goes out again first. */
  attach(stream: SmStream): void {
    this.live = stream;
    this.asking = false;
    for (const element of this.queue) {
      stream.write(element);
    }
    if (this.queue.length > 0) {
      this.ask();
    }
  }

  detach(): void {
    this.live = undefined;
    this.asking = false;
    clearTimeout(this.askTimer);
    this.askTimer = undefined;
  }

  stop(): void {
    this.ended = true;
    this.detach();
    clearTimeout(this.resumeTimer);
  }
}

export interface ResumptionLimits {
  /** Longest wait for resumption, in seconds; 0 turns resumption off. */
  readonly resumeTimeoutSeconds: number;
  readonly maxUnacked: number;
}

/**
 * Stream management for this node's streams (XEP-0198): the feature, the
 * nonzas, and the sessions that may be resumed. A session whose connection
 * drops stays bound and in the router, queuing what it is sent, until it
 * is resumed or its time runs out; then it ends like any other, and what
 * it never acknowledged is left to offline delivery. Resumption ids are
 * known to this node only, so a session resumes on the node it lived on.
 */
export class StreamResumption {
  private readonly resumable = new Map<string, XmppSession>();

  constructor(
    private readonly limits: ResumptionLimits,
    /** Ends a session for good: it leaves the router, its presence goes. */
    private readonly endSession: (session: XmppSession) => void,
  ) {}

  /** Offered with resource binding (XEP-0198 section 2); not over BOSH, whose requests are acknowledged already. */
  feature(stream: SmStream): XmlElement | undefined {
    return stream.transportKind === 'bosh' ? undefined : el('sm', NS.sm);
  }

  /** Sessions waiting for resumption or resumable, for metrics and tests. */
  get size(): number {
    return this.resumable.size;
  }

  async nonza(stream: SmStream, element: XmlElement): Promise<void> {
    switch (element.name) {
      case 'enable':
        this.enable(stream, element);
        break;
      case 'resume':
        await this.resume(stream, element);
        break;
      case 'r':
        stream.write(el('a', NS.sm, { h: String(this.managed(stream).inbound) }));
        break;
      case 'a':
        this.acknowledged(stream, element);
        break;
      default:
        throw new StreamError('unsupported-stanza-type', `<${element.name}/> in ${NS.sm}`);
    }
  }

  private managed(stream: SmStream): StreamManagement {
    const sm = stream.session?.sm;
    if (sm === undefined) {
      throw new StreamError('unsupported-stanza-type', 'stream management is not enabled');
    }

    return sm;
  }

  /** Section 3: enabling, after resource binding, once per session. */
  private enable(stream: SmStream, element: XmlElement): void {
    const session = stream.session;
    if (stream.transportKind === 'bosh') {
      stream.write(failed('feature-not-implemented'));

      return;
    }
    if (session === undefined || session.sm !== undefined) {
      stream.write(failed('unexpected-request'));

      return;
    }
    const wanted = element.attr('resume');
    const resume = (wanted === 'true' || wanted === '1') && this.limits.resumeTimeoutSeconds > 0;
    const asked = parseCount(element.attr('max'));
    const maxSeconds = Math.min(
      this.limits.resumeTimeoutSeconds,
      asked === undefined || asked === 0 ? Infinity : asked,
    );
    const id = resume ? randomBytes(18).toString('base64url') : undefined;
    stream.write(
      el('enabled', NS.sm, {
        id,
        resume: resume ? 'true' : undefined,
        max: resume ? String(maxSeconds) : undefined,
      }),
    );
    // Counting starts after <enabled/> (section 4).
    const sm = new StreamManagement(id, maxSeconds, this.limits.maxUnacked, () =>
      this.overflow(session),
    );
    session.sm = sm;
    sm.live = stream;
    if (id !== undefined) {
      this.resumable.set(id, session);
    }
  }

  private acknowledged(stream: SmStream, element: XmlElement): void {
    const sm = this.managed(stream);
    const h = parseCount(element.attr('h'));
    if (h === undefined) {
      throw new StreamError('invalid-xml', "<a/> needs 'h', an unsigned 32-bit integer");
    }
    if (!sm.ack(h)) {
      stream.fail(
        'undefined-condition',
        `you acknowledged ${h} stanzas, but only ${sm.sendCount} were sent`,
        el('handled-count-too-high', NS.sm, { h: String(h), 'send-count': String(sm.sendCount) }),
      );
    }
  }

  /**
   * Section 5: resuming instead of binding. Only the user who owns the
   * session may resume it; anyone else is told it does not exist, as for an
   * unknown id. A session whose old stream is still open is taken from it:
   * the old stream closes, what it was handling completes first, so the
   * 'h' sent back counts it.
   */
  private async resume(stream: SmStream, element: XmlElement): Promise<void> {
    const user = stream.authenticatedUser;
    if (stream.transportKind === 'bosh') {
      stream.write(failed('feature-not-implemented'));

      return;
    }
    if (stream.session !== undefined || user === undefined) {
      stream.write(failed('unexpected-request'));

      return;
    }
    const h = parseCount(element.attr('h'));
    const session = this.resumable.get(element.attr('previd') ?? '');
    const sm = session?.sm;
    if (h === undefined) {
      stream.write(failed('bad-request'));

      return;
    }
    if (session === undefined || sm === undefined || session.user.id !== user.id || sm.resuming) {
      stream.write(failed('item-not-found'));

      return;
    }
    sm.resuming = true;
    clearTimeout(sm.resumeTimer);
    const old = sm.live;
    this.park(session);
    await old?.release();
    sm.resuming = false;
    if (sm.ended) {
      stream.write(failed('item-not-found'));

      return;
    }
    if (stream.closed) {
      this.wait(session);

      return;
    }
    if (!sm.ack(h)) {
      stream.write(failed('undefined-condition', { h: String(sm.inbound) }));
      this.endSession(session);

      return;
    }
    stream.write(el('resumed', NS.sm, { previd: sm.id, h: String(sm.inbound) }));
    stream.adopt(session);
    session.moveTo(stream);
    sm.attach(stream);
    logger.debug(
      { session: session.id, stream: stream.id, replayed: sm.unacked.length },
      'session resumed',
    );
  }

  /**
   * The session's connection is gone without a closing stream: true when
   * it waits for resumption (the caller keeps it bound), false when it ends.
   */
  hibernate(session: XmppSession): boolean {
    const sm = session.sm;
    if (sm?.id === undefined || sm.ended) {
      return false;
    }
    this.park(session);
    this.wait(session);

    return true;
  }

  private park(session: XmppSession): void {
    const sm = session.sm!;
    sm.detach();
    session.moveTo(sm);
  }

  private wait(session: XmppSession): void {
    const sm = session.sm!;
    clearTimeout(sm.resumeTimer);
    sm.resumeTimer = setTimeout(() => this.endSession(session), sm.maxSeconds * 1000).unref();
  }

  /** Too many unacknowledged stanzas: the stream ends with resource-constraint, or, while waiting, the session. */
  private overflow(session: XmppSession): void {
    const live = session.sm?.live;
    if (live !== undefined && !live.closed) {
      live.fail('resource-constraint', 'too many unacknowledged stanzas');
    } else {
      this.endSession(session);
    }
  }

  /**
   * A session ended for good (told by the gateway). What it did not
   * acknowledge is not sent anywhere else: messages with a body are the
   * archive's, and the first of them, returned here, is where the user's
   * offline messages start again (offered at the next available presence
   * while still unread); room messages are in the room's archive; presence,
   * chat states, roster pushes, IQs and carbons describe state the next
   * session gets afresh, or copies of what the archive holds (XEP-0198
   * section 5 lets the server treat them as sent to an unavailable resource).
   */
  ended(session: XmppSession): string | undefined {
    const sm = session.sm;
    if (sm === undefined || sm.ended) {
      return undefined;
    }
    sm.stop();
    if (sm.id !== undefined) {
      this.resumable.delete(sm.id);
    }
    const archived = sm.unacked
      .filter(
        (stanza) => stanza.name === 'message' && stanza.child('body', NS.client) !== undefined,
      )
      .map((stanza) => stanza.child('stanza-id', NS.stanzaId)?.attr('id'))
      .filter((id): id is string => id !== undefined && isMessageId(id));
    if (sm.unacked.length > 0) {
      logger.debug(
        { session: session.id, unacked: sm.unacked.length, archivedMessages: archived.length },
        'session ended with unacknowledged stanzas',
      );
    }

    return archived.sort()[0];
  }
}
