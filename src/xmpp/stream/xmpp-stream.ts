import { randomBytes } from 'node:crypto';

import { Logger } from '@nestjs/common';

import type { UserRef } from '#src/accounts/users.service.js';
import { JidError, normalizeResource, parseJid, formatJid } from '#src/common/jid.js';
import type { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';
import type { SaslContext, SaslMechanismRun } from '#src/xmpp/sasl/sasl-authenticator.service.js';
import { SaslFailure } from '#src/xmpp/sasl/scram.js';
import { StanzaError, StreamError, type StreamCondition } from '#src/xmpp/stream/errors.js';
import type { SmStream } from '#src/xmpp/stream/stream-management.js';
import type { StreamTransport, TransportKind } from '#src/xmpp/stream/transport.js';
import { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** The client's stream header, as the transport read it. */
export interface StreamHeader {
  readonly to?: string;
  readonly version?: string;
  readonly lang?: string;
}

type State = 'header' | 'negotiating' | 'bound' | 'closed';

/** Stanzas queued for processing beyond which the transport stops reading. */
const PAUSE_AT = 32;
const RESUME_AT = 8;
const MAX_SASL_FAILURES = 3;
/** Pipelined work (message commits) pending per stream beyond which reading waits. */
const MAX_IN_FLIGHT = 64;

const logger = new Logger('XmppStream');

/**
 * One client-to-server stream (RFC 6120), whatever carries it: header and
 * features, STARTTLS, SASL, resource binding, then stanzas handed to the
 * registered handlers. Stanzas are processed one at a time in order, but a
 * handler may pipeline slow work (a message's archive commit) and let the
 * next stanza in before it settles; a stream error ends this stream only.
 */
export class XmppStream implements SmStream {
  readonly id = randomBytes(9).toString('base64url');
  private state: State = 'header';
  private headerSent = false;
  private domain = '';
  private user?: UserRef;
  private sasl?: { run: SaslMechanismRun; mechanism: string };
  private offered: string[] = [];
  private saslFailures = 0;
  session?: XmppSession;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private paused = false;
  /** Pipelined work this stream started that has not settled; unset while there is none. */
  private inFlight?: Set<Promise<void>>;
  /** What the stanza being handled pipelined, if anything. */
  private stanzaWork?: Promise<void>;
  /** Settles when every stanza read so far is handled, in order; unset when nothing is pending. */
  private handling?: Promise<void>;
  /** Epoch ms of the last input, for idle detection. */
  lastInput = Date.now();
  /** Id and time of a ping the server sent and has no answer to. */
  pendingPing?: { readonly id: string; readonly at: number };
  readonly openedAt = Date.now();

  constructor(
    readonly transport: StreamTransport,
    private readonly gateway: XmppGateway,
  ) {}

  get closed(): boolean {
    return this.state === 'closed';
  }

  get authenticated(): boolean {
    return this.user !== undefined;
  }

  get authenticatedUser(): UserRef | undefined {
    return this.user;
  }

  get transportKind(): TransportKind {
    return this.transport.kind;
  }

  /** Counts input for idle detection and traffic shaping. */
  onInput(bytes: number): void {
    this.lastInput = Date.now();
    this.gateway.shaper.consume(this, bytes);
  }

  onHeader(header: StreamHeader): void {
    this.enqueue(() => this.openStream(header));
  }

  onElement(element: XmlElement): void {
    if (this.state === 'closed') {
      return;
    }
    this.enqueue(() => this.dispatch(element));
  }

  /** The client closed its stream (RFC 6120 section 4.4): close ours too, once its messages are answered. */
  onEnd(): void {
    this.enqueue(async () => {
      if (this.inFlight !== undefined) {
        await Promise.allSettled(this.inFlight);
      }
      this.shutdown();
      this.transport.end();
    });
  }

  /** The connection is gone, whatever the reason: a resumable session waits (XEP-0198). */
  onTransportClosed(): void {
    this.shutdown(true);
  }

  /** Ends the stream with a stream error (RFC 6120 section 4.9). */
  fail(condition: StreamCondition, text?: string, appCondition?: XmlElement): void {
    if (this.state === 'closed') {
      return;
    }
    if (!this.headerSent) {
      // The header goes out first even when it is what was wrong (RFC 6120 section 4.9.1.2).
      this.sendHeader();
    }
    // A peer that stopped answering pings is as gone as a dropped connection.
    this.shutdown(condition === 'connection-timeout');
    this.transport.end(new StreamError(condition, text, appCondition).toElement());
  }

  send(element: XmlElement): void {
    if (this.state === 'closed') {
      return;
    }
    this.transport.send(element);
    // XEP-0198: counted and kept until the client acknowledges it.
    this.session?.sm?.outbound(element);
    if (this.transport.outboundBytes() > this.gateway.config.xmpp.maxOutboundBytes) {
      this.fail('policy-violation', 'the client does not read what it is sent');
    }
  }

  pipeline(work: Promise<void>): Promise<void> {
    const inFlight = (this.inFlight ??= new Set());
    const tracked = work.finally(() => {
      inFlight.delete(tracked);
      if (inFlight.size === 0 && this.inFlight === inFlight) {
        this.inFlight = undefined;
      }
    });
    inFlight.add(tracked);
    this.stanzaWork = tracked;
    if (inFlight.size < MAX_IN_FLIGHT) {
      return Promise.resolve();
    }

    return Promise.race(inFlight);
  }

  /**
   * Counts a stanza handled (for XEP-0198) once it and every stanza before
   * it are: a pipelined message when its commit settles.
   */
  private noteHandled(work: Promise<void> | undefined): void {
    const session = this.session;
    if (session?.sm === undefined) {
      // XEP-0198 counts from <enable/> on (section 4): before it, or without it, there is nothing
      // to count, and no promises to chain per message.
      return;
    }
    const count = () => session.sm?.handled();
    if (work === undefined) {
      this.whenHandled(count);

      return;
    }
    this.chain(Promise.all([this.handling, work.catch(() => undefined)]).then(count));
  }

  /** Runs `task` once every stanza read so far is handled, in order with the count. */
  private whenHandled(task: () => void): void {
    if (this.handling === undefined) {
      task();

      return;
    }
    this.chain(this.handling.then(task));
  }

  private chain(step: Promise<unknown>): void {
    const next: Promise<void> = step.then(
      () => {
        if (this.handling === next) {
          this.handling = undefined;
        }
      },
      (error: unknown) => this.onTaskError(error),
    );
    this.handling = next;
  }

  /** Writes an element outside the stanza count: a stream management nonza or a replayed stanza. */
  write(element: XmlElement): void {
    if (this.state !== 'closed') {
      this.transport.send(element);
    }
  }

  /** XEP-0198 resumption: this stream carries `session` from now on. */
  adopt(session: XmppSession): void {
    this.session = session;
    this.state = 'bound';
  }

  /** XEP-0198 resumption elsewhere: this stream ends, its session lives on. */
  release(): Promise<void> {
    this.session = undefined;
    this.fail('conflict', 'the session was resumed on another stream');

    // What the old stream was handling counts in the h the client is told, commits included.
    return this.queue.then(() => this.handling);
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.queued += 1;
    if (this.queued >= PAUSE_AT && !this.paused) {
      this.paused = true;
      this.transport.pause();
    }
    this.queue = this.queue
      .then(async () => {
        if (this.state !== 'closed') {
          await task();
        }
      })
      .catch((error: unknown) => this.onTaskError(error))
      .finally(() => {
        this.queued -= 1;
        if (this.paused && this.queued <= RESUME_AT) {
          this.paused = false;
          this.gateway.shaper.resumeIfAllowed(this);
        }
      });
  }

  private onTaskError(error: unknown): void {
    if (error instanceof StreamError) {
      this.fail(error.condition, error.text, error.appCondition);

      return;
    }
    logger.error({ err: error, stream: this.id }, 'stream task failed');
    this.fail('internal-server-error');
  }

  private async openStream(header: StreamHeader): Promise<void> {
    if (this.state !== 'header') {
      throw new StreamError('invalid-xml', 'a stream header in the middle of a stream');
    }
    this.state = 'negotiating';
    const domain = header.to?.toLowerCase();
    if (domain === undefined || (await this.gateway.domains.isEnabled(domain)) !== true) {
      this.domain = this.gateway.config.domains[0] ?? 'localhost';
      throw new StreamError('host-unknown', `${header.to ?? '(none)'} is not served here`);
    }
    if (this.user !== undefined && domain !== this.domain) {
      throw new StreamError('host-unknown', 'the stream restarted to another domain');
    }
    this.domain = domain;
    const major = Number.parseInt((header.version ?? '0.0').split('.')[0] ?? '', 10);
    if (major !== 1) {
      throw new StreamError('unsupported-version', 'only XMPP 1.0 is spoken');
    }
    this.sendHeader();
    this.transport.send(this.features());
  }

  private sendHeader(): void {
    this.headerSent = true;
    this.transport.sendHeader({
      from: this.domain || (this.gateway.config.domains[0] ?? 'localhost'),
      id: randomBytes(12).toString('base64url'),
      version: '1.0',
      'xml:lang': 'en',
    });
  }

  /** Stream features in the order a client negotiates them (RFC 6120 section 4.3.2). */
  private features(): XmlElement {
    const features = el('features', NS.stream);
    const requireTls = this.gateway.config.xmpp.requireTls;
    if (this.user !== undefined) {
      return features.append(
        el('bind', NS.bind),
        el('session', NS.session, {}, el('optional', NS.session)),
        this.gateway.resumption.feature(this),
        this.gateway.capsElement(),
        ...this.gateway.handlers.streamFeatures(),
      );
    }
    const secure = this.transport.isSecure();
    if (!secure && this.transport.canStartTls()) {
      features.append(el('starttls', NS.tls, {}, requireTls ? el('required', NS.tls) : undefined));
    }
    this.offered = this.gateway.sasl.mechanisms(this.saslContext(), !requireTls);
    if (this.offered.length > 0) {
      features.append(
        el(
          'mechanisms',
          NS.sasl,
          {},
          ...this.offered.map((name) => el('mechanism', NS.sasl, {}, name)),
        ),
      );
      const bindings = [...this.transport.channelBindings().types.keys()];
      if (bindings.length > 0) {
        // XEP-0440: which channel-binding types this connection supports.
        features.append(
          el(
            'sasl-channel-binding',
            NS.saslChannelBinding,
            {},
            ...bindings.map((type) => el('channel-binding', NS.saslChannelBinding, { type })),
          ),
        );
      }
    }

    return features;
  }

  private saslContext(): SaslContext {
    return {
      domain: this.domain,
      address: this.transport.address,
      secure: this.transport.isSecure(),
      bindings: this.transport.channelBindings(),
    };
  }

  private async dispatch(element: XmlElement): Promise<void> {
    if (this.state === 'header') {
      throw new StreamError('not-authorized', 'a stream header comes first');
    }
    if (element.ns === NS.stream && element.name === 'error') {
      // The client ends its stream with an error of its own (RFC 6120 section 4.9): ours closes too.
      this.shutdown();
      this.transport.end();

      return;
    }
    if (this.user === undefined) {
      await this.negotiate(element);

      return;
    }
    if (element.ns === NS.sm) {
      if (element.name === 'r') {
        // The answer counts every stanza before it, messages still committing included.
        this.whenHandled(() => {
          this.gateway.resumption.nonza(this, element).catch((error: unknown) => {
            this.onTaskError(error);
          });
        });

        return;
      }
      // XEP-0198 nonzas: enable, resume (instead of binding), acks.
      await this.gateway.resumption.nonza(this, element);

      return;
    }
    if (this.state !== 'bound') {
      await this.beforeBind(element);

      return;
    }
    // Counted for XEP-0198 acks once handled, error replies included (see noteHandled).
    await this.stanza(element);
  }

  private async negotiate(element: XmlElement): Promise<void> {
    if (element.is('starttls', NS.tls)) {
      if (this.transport.isSecure() || !this.transport.canStartTls()) {
        this.transport.end(el('failure', NS.tls));
        this.shutdown();

        return;
      }
      this.transport.send(el('proceed', NS.tls));
      this.state = 'header';
      this.transport.startTls();

      return;
    }
    if (element.ns === NS.sasl) {
      await this.saslElement(element);

      return;
    }
    // RFC 6120 section 6.4.x: nothing but negotiation before authentication.
    throw new StreamError('not-authorized', `<${element.name}/> before authentication`);
  }

  private async saslElement(element: XmlElement): Promise<void> {
    try {
      if (element.name === 'auth') {
        if (this.gateway.config.xmpp.requireTls && !this.transport.isSecure()) {
          throw new SaslFailure('encryption-required');
        }
        const mechanism = element.attr('mechanism') ?? '';
        this.sasl = {
          run: this.gateway.sasl.begin(mechanism, this.saslContext(), this.offered),
          mechanism,
        };
        await this.saslStep(element.text(), true);
      } else if (element.name === 'response' && this.sasl !== undefined) {
        await this.saslStep(element.text(), false);
      } else if (element.name === 'abort') {
        throw new SaslFailure('aborted');
      } else {
        throw new SaslFailure('malformed-request', `unexpected <${element.name}/>`);
      }
    } catch (error: unknown) {
      if (!(error instanceof SaslFailure)) {
        throw error;
      }
      this.sasl = undefined;
      this.transport.send(el('failure', NS.sasl, {}, el(error.condition, NS.sasl)));
      if (error.condition !== 'aborted' && ++this.saslFailures >= MAX_SASL_FAILURES) {
        this.fail('policy-violation', 'too many failed authentication attempts');
      }
    }
  }

  private async saslStep(base64: string, initial: boolean): Promise<void> {
    const text = base64.trim();
    if (text !== '' && text !== '=' && !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      throw new SaslFailure('incorrect-encoding');
    }
    if (initial && text === '' && this.sasl?.mechanism !== undefined) {
      // No initial response: an empty challenge asks for it (RFC 6120 section 6.4.2).
      this.transport.send(el('challenge', NS.sasl));

      return;
    }
    const result = await this.sasl!.run.step(Buffer.from(text === '=' ? '' : text, 'base64'));
    if ('challenge' in result) {
      this.transport.send(
        el('challenge', NS.sasl, {}, Buffer.from(result.challenge).toString('base64')),
      );

      return;
    }
    this.sasl = undefined;
    this.user = result.success;
    this.transport.send(
      el(
        'success',
        NS.sasl,
        {},
        result.additional === undefined
          ? undefined
          : Buffer.from(result.additional).toString('base64'),
      ),
    );
    this.state = 'header';
    this.transport.restart();
  }

  private async beforeBind(element: XmlElement): Promise<void> {
    const bind =
      element.is('iq', NS.client) && element.attr('type') === 'set'
        ? element.child('bind', NS.bind)
        : undefined;
    if (bind === undefined) {
      throw new StreamError('not-authorized', 'bind a resource first');
    }
    let resource: string;
    try {
      const requested = bind.childText('resource')?.trim();
      resource =
        requested === undefined || requested === ''
          ? randomBytes(6).toString('base64url')
          : normalizeResource(requested).slice(0, 256);
    } catch (error: unknown) {
      if (error instanceof JidError) {
        this.transport.send(new StanzaError('bad-request', error.reason).reply(element));

        return;
      }
      throw error;
    }
    const user = this.user!;
    // RFC 6120 section 7.7.2.2: the new session takes over; the old one gets <conflict/>.
    const existing = await this.gateway.router.sessionsOf(user.jid);
    for (const other of existing) {
      if (other.resource === resource) {
        await this.gateway.router.kick(other.id, 'resource conflict');
      }
    }
    if (this.state === 'closed') {
      return;
    }
    const session = new XmppSession(
      this,
      this.id,
      user,
      resource,
      this.gateway.config.nodeId,
      this.transport.address,
    );
    this.session = session;
    this.state = 'bound';
    await this.gateway.attach(session);
    this.transport.send(
      el(
        'iq',
        NS.client,
        { type: 'result', id: element.attr('id') },
        el('bind', NS.bind, {}, el('jid', NS.bind, {}, session.fullJid)),
      ),
    );
  }

  private async stanza(element: XmlElement): Promise<void> {
    const session = this.session!;
    const nonza = this.gateway.handlers.nonzaHandler(element.ns);
    if (nonza !== undefined) {
      await nonza(session, element);

      return;
    }
    if (element.ns !== NS.client || !['message', 'presence', 'iq'].includes(element.name)) {
      throw new StreamError('unsupported-stanza-type', `<${element.name}/> in ${element.ns}`);
    }
    const from = element.attr('from');
    if (from !== undefined && !this.isOwnAddress(from)) {
      // RFC 6120 section 8.1.2.1: a from that is not the session's own address.
      throw new StreamError('invalid-from', `${from} is not this session`);
    }
    element.attrs.from = session.fullJid;
    this.stanzaWork = undefined;
    try {
      const component = this.gateway.handlers.componentFor(element.attr('to'));
      if (component !== undefined) {
        await component.handle(session, element);

        return;
      }
      if (element.name === 'iq') {
        await this.gateway.iq.dispatch(session, element);
      } else {
        await this.gateway.handlers.stanzaHandler(element.name)?.(session, element);
      }
    } catch (error: unknown) {
      if (!(error instanceof StanzaError)) {
        throw error;
      }
      if (element.attr('type') !== 'error') {
        // Through the session: after a XEP-0198 takeover it is carried by the new stream.
        session.send(error.reply(element, this.domain));
      }
    }
    this.noteHandled(this.stanzaWork);
    this.stanzaWork = undefined;
  }

  private isOwnAddress(from: string): boolean {
    try {
      const jid = parseJid(from);
      const session = this.session!;

      return formatJid(jid) === session.fullJid || formatJid(jid) === session.jid;
    } catch {
      // An address that does not parse is not this session's.
      return false;
    }
  }

  /** Leaves the router and the gateway's books; idempotent. `lost`: the connection dropped. */
  private shutdown(lost = false): void {
    if (this.state === 'closed') {
      return;
    }
    this.state = 'closed';
    this.gateway.forget(this, lost);
  }
}
