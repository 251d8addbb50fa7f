import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ChannelBindings } from '#src/xmpp/sasl/scram.js';
import type { StreamTransport } from '#src/xmpp/stream/transport.js';
import type { XmppStream } from '#src/xmpp/stream/xmpp-stream.js';
import { isSecureRequest } from '#src/xmpp/transports/http-security.js';
import { escapeAttr, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';
import { XmlStreamParser } from '#src/xmpp/xml/stream-parser.js';
import type { XmppGateway } from '#src/xmpp/xmpp-gateway.service.js';

export const BOSH_PATH = '/http-bind';
const NO_BINDINGS: ChannelBindings = { types: new Map() };

/** XEP-0124 section 7.1: the longest a request is held, the most held at once, and idle time allowed. */
const MAX_WAIT_SECONDS = 60;
const MAX_HOLD = 2;
const INACTIVITY_SECONDS = 60;
/** A body carries a few stanzas; a whole one may be this much larger than the stanza limit. */
const BODY_OVERHEAD_BYTES = 4096;

/** XEP-0124 section 17 terminal binding conditions this manager uses. */
type TerminalCondition =
  'bad-request' | 'host-unknown' | 'item-not-found' | 'policy-violation' | 'remote-stream-error';

interface HeldRequest {
  readonly rid: number;
  readonly response: ServerResponse;
  readonly timer: NodeJS.Timeout;
}

interface Waiting {
  readonly body: XmlElement;
  readonly children: XmlElement[];
  readonly response: ServerResponse;
}

/**
 * One BOSH session (XEP-0124 with XEP-0206): the stream state machine
 * speaks through it as through a socket. Requests are taken in rid order
 * (those that arrive early wait for the gap to fill), held until there is
 * something to say or `wait` runs out, and each response is kept for the
 * window so that a request sent again after a lost response gets the same
 * answer (section 14.3).
 */
export class BoshSession implements StreamTransport {
  readonly kind = 'bosh' as const;
  readonly sid = randomBytes(16).toString('base64url');
  readonly address: string;
  private readonly stream: XmppStream;
  private readonly secure: boolean;
  private readonly wait: number;
  private readonly hold: number;
  private readonly domain: string;
  /** The highest rid taken in order. */
  private lastRid: number;
  private readonly early = new Map<number, Waiting>();
  private readonly held: HeldRequest[] = [];
  private readonly answers = new Map<number, string>();
  /** Serialized stanzas waiting for a request to answer. */
  private pending: string[] = [];
  private pendingBytes = 0;
  private creation?: Record<string, string>;
  private headerAttrs?: Record<string, string>;
  private terminal?: { condition?: TerminalCondition; error?: XmlElement };
  private flushScheduled = false;
  private inactivity?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly manager: BoshManager,
    gateway: XmppGateway,
    request: IncomingMessage,
    body: XmlElement,
    rid: number,
  ) {
    this.address = request.socket.remoteAddress ?? 'unknown';
    this.secure = isSecureRequest(request, gateway.config.http.trustProxy);
    this.wait = clamp(body.attr('wait'), 1, MAX_WAIT_SECONDS, MAX_WAIT_SECONDS);
    this.hold = clamp(body.attr('hold'), 0, MAX_HOLD, 1);
    this.domain = body.attr('to') ?? '';
    this.lastRid = rid - 1;
    this.stream = gateway.open(this);
  }

  /** The session creation request (section 7.1); its answer is the first response. */
  start(body: XmlElement, response: ServerResponse): void {
    this.creation = {
      sid: this.sid,
      wait: String(this.wait),
      hold: String(this.hold),
      requests: String(this.hold + 1),
      inactivity: String(INACTIVITY_SECONDS),
      polling: '0',
      ver: '1.11',
      'xmpp:version': '1.0',
      'xmpp:restartlogic': 'true',
    };
    this.take(body, [], response);
  }

  /** A request of this session, in whatever order it came (section 14). */
  accept(body: XmlElement, children: XmlElement[], response: ServerResponse): void {
    const rid = Number(body.attr('rid'));
    if (rid <= this.lastRid) {
      const answer = this.answers.get(rid);
      if (answer === undefined) {
        this.manager.refuse(response, 'item-not-found');
        this.terminate('item-not-found');
      } else {
        // Section 14.3: the response was lost; the same one again.
        writeBody(response, answer);
      }

      return;
    }
    if (rid > this.lastRid + this.hold + 1 || this.early.has(rid)) {
      // Section 14.2: outside the window.
      this.manager.refuse(response, 'item-not-found');
      this.terminate('item-not-found');

      return;
    }
    this.early.set(rid, { body, children, response });
    for (let next = this.early.get(this.lastRid + 1); next !== undefined;) {
      this.early.delete(this.lastRid + 1);
      this.take(next.body, next.children, next.response);
      next = this.early.get(this.lastRid + 1);
    }
  }

  private take(body: XmlElement, children: XmlElement[], response: ServerResponse): void {
    const rid = Number(body.attr('rid'));
    this.lastRid = rid;
    clearTimeout(this.inactivity);
    for (const [old] of this.answers) {
      if (old <= rid - this.hold - 2) {
        this.answers.delete(old);
      }
    }
    const timer = setTimeout(() => this.answerOldest(), this.wait * 1000);
    this.held.push({ rid, response, timer });
    response.on('close', () => this.onResponseClosed(rid));
    if (body.attr('xmpp:restart') === 'true') {
      // XEP-0206 section 5: a stream restart after SASL success.
      this.stream.onHeader({ to: this.domain, version: '1.0' });
    } else if (this.creation !== undefined && this.headerAttrs === undefined) {
      this.stream.onHeader({
        to: body.attr('to'),
        version: body.attr('xmpp:version'),
        lang: body.attr('xml:lang'),
      });
    }
    for (const child of children) {
      this.stream.onInput(0);
      this.stream.onElement(child);
    }
    if (body.attr('type') === 'terminate') {
      // Section 13: the client ends the session; stanzas in this body were handed on first.
      this.stream.onEnd();
    }
    while (
      this.held.length > this.hold &&
      (this.creation === undefined || this.pending.length > 0)
    ) {
      this.answerOldest();
    }
  }

  private onResponseClosed(rid: number): void {
    const index = this.held.findIndex((item) => item.rid === rid);
    if (index !== -1) {
      clearTimeout(this.held[index]!.timer);
      this.held.splice(index, 1);
    }
    this.idleCheck();
  }

  /** Section 7.1 inactivity: no request held for that long ends the session. */
  private idleCheck(): void {
    if (this.held.length === 0 && !this.closed) {
      clearTimeout(this.inactivity);
      this.inactivity = setTimeout(() => {
        this.stream.onTransportClosed();
        this.close();
      }, INACTIVITY_SECONDS * 1000).unref();
    }
  }

  /** Answers the oldest held request with everything pending (possibly nothing). */
  private answerOldest(): void {
    const request = this.held.shift();
    if (request === undefined) {
      return;
    }
    clearTimeout(request.timer);
    const attrs: Record<string, string> = {};
    if (this.creation !== undefined) {
      Object.assign(
        attrs,
        this.creation,
        this.headerAttrs?.from ? { from: this.headerAttrs.from } : {},
      );
      if (this.secure) {
        attrs.secure = 'true';
      }
      this.creation = undefined;
    }
    if (request.rid < this.lastRid) {
      // Section 9.1: answering an older request, say which is the newest taken.
      attrs.ack = String(this.lastRid);
    }
    if (this.terminal !== undefined) {
      attrs.type = 'terminate';
      if (this.terminal.condition !== undefined) {
        attrs.condition = this.terminal.condition;
      }
    }
    const children = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.terminal?.error !== undefined) {
      children.push(this.terminal.error.toXml(NS.httpbind, true));
    }
    const text = renderBody(attrs, children);
    this.answers.set(request.rid, text);
    writeBody(request.response, text);
    if (attrs.type === 'terminate') {
      this.close();
    } else {
      this.idleCheck();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) {
      return;
    }
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.pending.length > 0 || this.terminal !== undefined) {
        this.answerOldest();
      }
    });
  }

  private terminate(condition?: TerminalCondition, error?: XmlElement): void {
    if (this.closed || this.terminal !== undefined) {
      return;
    }
    this.terminal = {
      ...(condition === undefined ? {} : { condition }),
      ...(error === undefined ? {} : { error }),
    };
    this.stream.onTransportClosed();
    if (this.held.length > 0) {
      this.scheduleFlush();
    } else {
      this.close();
    }
  }

  private close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    clearTimeout(this.inactivity);
    for (const request of this.held.splice(0)) {
      clearTimeout(request.timer);
      writeBody(request.response, renderBody({ type: 'terminate' }, []));
    }
    this.manager.forget(this.sid);
  }

  isSecure(): boolean {
    return this.secure;
  }

  canStartTls(): boolean {
    return false;
  }

  startTls(): void {
    throw new Error('no STARTTLS over BOSH');
  }

  channelBindings(): ChannelBindings {
    return NO_BINDINGS;
  }

  sendHeader(attrs: Record<string, string>): void {
    // XEP-0206 section 4: the header's attributes travel on the session creation response.
    this.headerAttrs = attrs;
  }

  send(element: XmlElement): void {
    if (this.closed) {
      return;
    }
    const text = element.toXml(NS.httpbind, true);
    this.pending.push(text);
    this.pendingBytes += text.length;
    this.scheduleFlush();
  }

  restart(): void {
    // The client's next body carries xmpp:restart (XEP-0206 section 5).
  }

  end(error?: XmlElement): void {
    if (error === undefined) {
      this.terminate();
    } else {
      this.terminate('remote-stream-error', error);
    }
  }

  outboundBytes(): number {
    return this.pendingBytes;
  }

  pause(): void {
    // Requests come only as the client sends them; nothing to stop reading.
  }

  resume(): void {
    // As pause.
  }
}

/** Takes POSTs to BOSH_PATH: parses each `<body/>` and hands it to its session. */
export class BoshManager {
  private readonly sessions = new Map<string, BoshSession>();

  constructor(private readonly gateway: XmppGateway) {}

  get size(): number {
    return this.sessions.size;
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, corsHeaders()).end();

      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST, OPTIONS' }).end();

      return;
    }
    const limit = this.gateway.config.xmpp.maxStanzaBytes + BODY_OVERHEAD_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
      }
    });
    request.on('end', () => {
      if (size > limit) {
        this.refuse(response, 'policy-violation');

        return;
      }
      this.onBody(request, response, Buffer.concat(chunks));
    });
  }

  private onBody(request: IncomingMessage, response: ServerResponse, data: Buffer): void {
    const parsed = parseBody(data, this.gateway.config.xmpp.maxStanzaBytes);
    if (parsed === undefined) {
      this.refuse(response, 'bad-request');

      return;
    }
    const { body, children } = parsed;
    const rid = Number(body.attr('rid'));
    if (!Number.isSafeInteger(rid) || rid < 1) {
      this.refuse(response, 'bad-request');

      return;
    }
    const sid = body.attr('sid');
    if (sid === undefined) {
      if (body.attr('to') === undefined) {
        this.refuse(response, 'bad-request');

        return;
      }
      const session = new BoshSession(this, this.gateway, request, body, rid);
      this.sessions.set(session.sid, session);
      session.start(body, response);

      return;
    }
    const session = this.sessions.get(sid);
    if (session === undefined) {
      this.refuse(response, 'item-not-found');

      return;
    }
    session.accept(body, children, response);
  }

  /** A terminal binding condition (XEP-0124 section 17), answered with 200 as section 17.2 asks. */
  refuse(response: ServerResponse, condition: TerminalCondition): void {
    writeBody(response, renderBody({ type: 'terminate', condition }, []));
  }

  forget(sid: string): void {
    this.sessions.delete(sid);
  }
}

function parseBody(
  data: Buffer,
  maxStanzaBytes: number,
): { body: XmlElement; children: XmlElement[] } | undefined {
  let body: XmlElement | undefined;
  let closed = false;
  let failed = false;
  const children: XmlElement[] = [];
  const parser = new XmlStreamParser(
    {
      onOpen: (root) => {
        body = root;
      },
      onElement: (element) => children.push(element),
      onClose: () => {
        closed = true;
      },
      onError: () => {
        failed = true;
      },
    },
    { maxStanzaBytes },
  );
  parser.write(data);
  if (failed || !closed || body === undefined || !body.is('body', NS.httpbind)) {
    return undefined;
  }

  return { body, children };
}

function renderBody(attrs: Record<string, string>, children: readonly string[]): string {
  let out = `<body xmlns="${NS.httpbind}" xmlns:xmpp="${NS.xbosh}" xmlns:stream="${NS.stream}"`;
  for (const name in attrs) {
    out += ` ${name}="${escapeAttr(attrs[name]!)}"`;
  }
  if (children.length === 0) {
    return `${out}/>`;
  }
  out += '>';

  return `${out}${children.join('')}</body>`;
}

function writeBody(response: ServerResponse, text: string): void {
  if (response.writableEnded || response.destroyed) {
    return;
  }
  response.writeHead(200, {
    'content-type': 'text/xml; charset=utf-8',
    'cache-control': 'no-store',
    ...corsHeaders(),
  });
  response.end(text);
}

function corsHeaders(): Record<string, string> {
  // Browser clients (XEP-0124 section 3 cross-domain use) post from other origins.
  return {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': 'content-type',
  };
}

function clamp(value: string | undefined, min: number, max: number, fallback: number): number {
  const number = Number.parseInt(value ?? '', 10);

  return Number.isInteger(number) ? Math.min(max, Math.max(min, number)) : fallback;
}
