// A minimal XMPP client for load tests, over raw TCP (node:net, node:tls):
// stream open, STARTTLS, SASL SCRAM-SHA-1 or PLAIN, resource binding and
// initial presence (RFC 6120, RFC 6121), optionally stream management
// (XEP-0198: acks both ways, no resumption), then raw stanza writes and a
// callback per incoming top-level element. It splits the stream into
// top-level elements with a small scanner instead of a full XML parser:
// it trusts the server it is pointed at and only has to be fast.
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
const NS_SM = 'urn:xmpp:sm:3';
const STANZAS = new Set(['message', 'presence', 'iq']);
const U32 = 2 ** 32;

/**
 * SCRAM keys by user, salt and iteration count. A client may keep them
 * (RFC 5802 section 5.1 lets it cache ClientKey and ServerKey), so a second
 * login of the same account costs the client no key stretching and the
 * login rate measures the server.
 */
export class ScramKeyCache {
  #keys = new Map();
  hits = 0;
  misses = 0;

  async keys(password, salt, iterations) {
    const key = `${password}\0${salt}\0${iterations}`;
    let keys = this.#keys.get(key);
    if (keys === undefined) {
      this.misses++;
      const salted = await pbkdf2Async(
        password.normalize('NFKC'),
        Buffer.from(salt, 'base64'),
        iterations,
        20,
        'sha1',
      );
      const clientKey = createHmac('sha1', salted).update('Client Key').digest();
      keys = {
        clientKey,
        storedKey: createHash('sha1').update(clientKey).digest(),
        serverKey: createHmac('sha1', salted).update('Server Key').digest(),
      };
      this.#keys.set(key, keys);
    } else {
      this.hits++;
    }

    return keys;
  }
}

/**
 * Splits the character stream into the stream header and its top-level
 * children (each as its source text). Attribute values are skipped as quoted
 * strings, so a `>` inside one does not end a tag.
 */
class ElementScanner {
  buf = '';
  pos = 0;
  depth = 0;
  start = 0;

  constructor(onHeader, onElement, onEnd) {
    this.onHeader = onHeader;
    this.onElement = onElement;
    this.onEnd = onEnd;
  }

  push(text) {
    this.buf += text;
    for (;;) {
      const lt = this.buf.indexOf('<', this.pos);
      if (lt === -1) {
        this.pos = this.buf.length;
        break;
      }
      const next = this.buf.charCodeAt(lt + 1);
      if (Number.isNaN(next)) {
        this.pos = lt;
        break;
      }
      if (next === 63 /* ? */ || next === 33 /* ! */) {
        const close = this.buf.indexOf(next === 63 ? '?>' : '>', lt);
        if (close === -1) {
          this.pos = lt;
          break;
        }
        this.pos = close + 1;
        continue;
      }
      const gt = tagEnd(this.buf, lt + 1);
      if (gt === -1) {
        this.pos = lt;
        break;
      }
      this.pos = gt + 1;
      if (next === 47 /* / */) {
        this.depth--;
        if (this.depth === 1) {
          this.onElement(this.buf.slice(this.start, gt + 1));
        } else if (this.depth === 0) {
          this.onEnd();
        }
        continue;
      }
      const selfClosing = this.buf.charCodeAt(gt - 1) === 47;
      if (this.depth === 0) {
        this.depth = 1;
        this.onHeader(this.buf.slice(lt, gt + 1));
      } else if (this.depth === 1) {
        this.start = lt;
        if (selfClosing) {
          this.onElement(this.buf.slice(lt, gt + 1));
        } else {
          this.depth = 2;
        }
      } else if (!selfClosing) {
        this.depth++;
      }
    }
    // Keep only what a later chunk may still complete.
    const keepFrom = this.depth >= 2 ? Math.min(this.start, this.pos) : this.pos;
    if (keepFrom > 0) {
      this.buf = this.buf.slice(keepFrom);
      this.pos -= keepFrom;
      this.start -= Math.min(this.start, keepFrom);
    }
  }
}

function tagEnd(text, from) {
  let quote = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) {
        quote = 0;
      }
    } else if (c === 34 || c === 39) {
      quote = c;
    } else if (c === 62) {
      return i;
    }
  }

  return -1;
}

export function elementName(xml) {
  let end = 1;
  while (end < xml.length) {
    const c = xml.charCodeAt(end);
    if (c === 32 || c === 62 || c === 47 || c === 9 || c === 10 || c === 13) {
      break;
    }
    end++;
  }
  const name = xml.slice(1, end);
  const colon = name.indexOf(':');

  return colon === -1 ? name : name.slice(colon + 1);
}

/**
 * The value of attribute `name` on the element's start tag, entity-decoded;
 * undefined when absent. A scan, not a regular expression: it runs on every
 * stanza the load client receives, and what it allocates counts in the
 * latency it measures (its own garbage collections pause its reads).
 */
export function attrOf(xml, name) {
  const end = tagEnd(xml, 1);
  const limit = end === -1 ? xml.length : end;
  for (let at = xml.indexOf(name, 1); at !== -1 && at < limit; at = xml.indexOf(name, at + 1)) {
    const equals = at + name.length;
    const quote = xml.charCodeAt(equals + 1);
    if (
      isSpace(xml.charCodeAt(at - 1)) &&
      xml.charCodeAt(equals) === 61 /* = */ &&
      (quote === 34 || quote === 39)
    ) {
      const close = xml.indexOf(quote === 34 ? '"' : "'", equals + 2);

      return unescapeXml(xml.slice(equals + 2, close));
    }
  }

  return undefined;
}

function isSpace(c) {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** The text of the first `<name>` child, entity-decoded; undefined when absent. */
export function childText(xml, name) {
  const open = xml.indexOf(`<${name}`);
  if (open === -1) {
    return undefined;
  }
  const gt = tagEnd(xml, open + 1);
  if (xml.charCodeAt(gt - 1) === 47) {
    return '';
  }
  const close = xml.indexOf(`</${name}>`, gt);

  return unescapeXml(xml.slice(gt + 1, close));
}

function unescapeXml(text) {
  return text.indexOf('&') === -1
    ? text
    : text
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&#(\d+);/g, (_, code) => String.fromCodePoint(Number(code)))
        .replace(/&amp;/g, '&');
}

export function escapeXml(text) {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;')
    .replace(/"/g, '&quot;');
}

/** RFC 5802 section 5.1: `=` and `,` in a SCRAM username. */
function saslName(name) {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function xor(a, b) {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) {
    out[i] = a[i] ^ b[i];
  }

  return out;
}

export class XmppLoadClient {
  /**
   * @param {object} options host, port, domain, username, password,
   *   starttls (boolean), mechanism ('SCRAM-SHA-1' | 'PLAIN'), resource,
   *   keyCache (ScramKeyCache), timeoutMs, ackEvery (enables XEP-0198 stream
   *   management and asks for an ack after every that many stanzas sent)
   */
  constructor(options) {
    this.options = options;
    this.jid = `${options.username}@${options.domain}`;
    this.socket = undefined;
    this.queue = [];
    this.waiter = undefined;
    this.failure = undefined;
    /** Set after login: called with each top-level element's text. */
    this.onStanza = undefined;
    this.closed = false;
    this.fullJid = undefined;
    /** XEP-0198 counters once enabled: stanzas handled and sent, the server's last ack, acks asked and answered. */
    this.sm = undefined;
  }

  /** Connects and logs in; resolves with the bound full JID once initial presence is out. */
  async login() {
    const { options } = this;
    const timer = setTimeout(
      () => this.#fail(new Error(`${this.jid}: login timed out`)),
      options.timeoutMs ?? 30_000,
    );
    try {
      await this.#connect();
      let features = await this.#open();
      if (options.starttls) {
        if (!features.includes(NS_TLS)) {
          throw new Error(`${this.jid}: the server offers no STARTTLS`);
        }
        this.#write(`<starttls xmlns='${NS_TLS}'/>`);
        await this.#expect('proceed');
        await this.#startTls();
        features = await this.#open();
      }
      await this.#authenticate(features);
      features = await this.#open();
      const resource = options.resource ?? 'bench';
      this.#write(
        `<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${escapeXml(resource)}</resource></bind></iq>`,
      );
      const bound = await this.#expect('iq');
      if (attrOf(bound, 'type') !== 'result') {
        throw new Error(`${this.jid}: bind failed: ${bound}`);
      }
      this.fullJid = childText(bound, 'jid');
      // RFC 3921 session establishment, only where the server still requires it.
      if (features.includes(NS_SESSION) && !/<optional\s*\/>/.test(features)) {
        this.#write(`<iq type='set' id='sess1'><session xmlns='${NS_SESSION}'/></iq>`);
        await this.#expect('iq');
      }
      if (options.ackEvery !== undefined) {
        if (!features.includes(NS_SM)) {
          throw new Error(`${this.jid}: the server offers no stream management`);
        }
        this.#write(`<enable xmlns='${NS_SM}'/>`);
        await this.#expect('enabled');
        // Counting starts once enabled (XEP-0198 section 4).
        this.sm = { inbound: 0, sent: 0, acked: 0, requested: 0, answered: 0, acksSent: 0 };
      }
      this.#write('<presence/>');
      this.#sentStanza();
      // A server handles a stream's stanzas in order: the answer to this ping means the
      // initial presence (and whatever it replays, such as offline messages) is done.
      this.#write(`<iq type='get' id='settle1'><ping xmlns='urn:xmpp:ping'/></iq>`);
      this.#sentStanza();
      for (;;) {
        const element = await this.#next();
        if (elementName(element) === 'iq' && attrOf(element, 'id') === 'settle1') {
          break;
        }
      }

      return this.fullJid;
    } catch (error) {
      this.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes `xml`: one stanza, counted for stream management. */
  sendRaw(xml) {
    this.#write(xml);
    this.#sentStanza();
  }

  sendMessage(to, body) {
    this.#write(`<message to='${to}' type='chat'><body>${body}</body></message>`);
    this.#sentStanza();
  }

  /** XEP-0198: every `ackEvery` stanzas sent, ask the server how many it handled. */
  #sentStanza() {
    const sm = this.sm;
    if (sm === undefined) {
      return;
    }
    sm.sent = (sm.sent + 1) % U32;
    if (sm.sent % this.options.ackEvery === 0) {
      sm.requested++;
      this.#write(`<r xmlns='${NS_SM}'/>`);
    }
  }

  /** XEP-0198 nonzas in, and the count of stanzas handled; true when `xml` was a nonza. */
  #streamManagement(xml) {
    const sm = this.sm;
    if (sm === undefined) {
      return false;
    }
    const name = elementName(xml);
    if (STANZAS.has(name)) {
      sm.inbound = (sm.inbound + 1) % U32;

      return false;
    }
    if (name === 'r' && xml.includes(NS_SM)) {
      sm.acksSent++;
      this.#write(`<a xmlns='${NS_SM}' h='${sm.inbound}'/>`);

      return true;
    }
    if (name === 'a' && xml.includes(NS_SM)) {
      sm.answered++;
      sm.acked = Number(attrOf(xml, 'h'));

      return true;
    }

    return false;
  }

  close() {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.#write('</stream:stream>');
    const socket = this.socket;
    socket?.end();
    setTimeout(() => socket?.destroy(), 2000).unref();
  }

  destroy() {
    this.closed = true;
    this.socket?.destroy();
  }

  #connect() {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.options.host, port: this.options.port });
      socket.setNoDelay(true);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
      this.#attach(socket);
    });
  }

  #attach(socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text) => this.scanner?.push(text));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error(`${this.jid}: connection closed`)));
  }

  #startTls() {
    return new Promise((resolve, reject) => {
      const plain = this.socket;
      plain.removeAllListeners('data');
      plain.removeAllListeners('error');
      plain.removeAllListeners('close');
      const secure = tls.connect({
        socket: plain,
        servername: this.options.domain,
        // Benchmarks run against self-signed test certificates on loopback.
        rejectUnauthorized: false,
      });
      secure.once('secureConnect', () => {
        secure.off('error', reject);
        resolve();
      });
      secure.once('error', reject);
      this.#attach(secure);
    });
  }

  /** Opens (or restarts) the stream; resolves with the features element. */
  async #open() {
    this.scanner = new ElementScanner(
      () => {},
      (xml) => this.#element(xml),
      () => this.#fail(new Error(`${this.jid}: the server closed the stream`)),
    );
    this.#write(
      `<?xml version='1.0'?><stream:stream to='${this.options.domain}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='${NS_STREAM}'>`,
    );

    return this.#expect('features');
  }

  async #authenticate(features) {
    const { mechanism = 'SCRAM-SHA-1', username, password } = this.options;
    if (!features.includes(`>${mechanism}<`)) {
      throw new Error(`${this.jid}: ${mechanism} is not offered`);
    }
    if (mechanism === 'PLAIN') {
      const payload = Buffer.from(`\0${username}\0${password}`).toString('base64');
      this.#write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${payload}</auth>`);
      await this.#saslSuccess();

      return;
    }
    if (mechanism !== 'SCRAM-SHA-1') {
      throw new Error(`mechanism ${mechanism} is not implemented by the load client`);
    }
    const nonce = randomBytes(18).toString('base64');
    const clientFirstBare = `n=${saslName(username)},r=${nonce}`;
    this.#write(
      `<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${Buffer.from(`n,,${clientFirstBare}`).toString('base64')}</auth>`,
    );
    const challenge = await this.#expect('challenge');
    const serverFirst = Buffer.from(childText(challenge, 'challenge') ?? '', 'base64').toString();
    const fields = Object.fromEntries(
      serverFirst.split(',').map((part) => [part[0], part.slice(2)]),
    );
    if (!fields.r?.startsWith(nonce) || fields.s === undefined || !(Number(fields.i) > 0)) {
      throw new Error(`${this.jid}: bad server-first-message ${serverFirst}`);
    }
    const keys = await this.options.keyCache.keys(password, fields.s, Number(fields.i));
    const clientFinalBare = `c=biws,r=${fields.r}`;
    const authMessage = `${clientFirstBare},${serverFirst},${clientFinalBare}`;
    const signature = createHmac('sha1', keys.storedKey).update(authMessage).digest();
    const proof = xor(keys.clientKey, signature).toString('base64');
    this.#write(
      `<response xmlns='${NS_SASL}'>${Buffer.from(`${clientFinalBare},p=${proof}`).toString('base64')}</response>`,
    );
    const success = await this.#saslSuccess();
    const serverFinal = Buffer.from(childText(success, 'success') ?? '', 'base64').toString();
    const expected = createHmac('sha1', keys.serverKey).update(authMessage).digest('base64');
    if (serverFinal !== `v=${expected}`) {
      throw new Error(`${this.jid}: the server's signature does not verify`);
    }
  }

  async #saslSuccess() {
    const answer = await this.#next();
    if (elementName(answer) !== 'success') {
      throw new Error(`${this.jid}: authentication failed: ${answer}`);
    }

    return answer;
  }

  async #expect(name) {
    const element = await this.#next();
    if (elementName(element) !== name) {
      throw new Error(`${this.jid}: expected <${name}/>, got ${element.slice(0, 300)}`);
    }

    return element;
  }

  #next() {
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    const queued = this.queue.shift();
    if (queued !== undefined) {
      return Promise.resolve(queued);
    }

    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  #element(xml) {
    if (this.#streamManagement(xml)) {
      return;
    }
    if (this.onStanza !== undefined) {
      this.onStanza(xml);

      return;
    }
    if (elementName(xml) === 'error' && xml.includes(NS_STREAM)) {
      this.#fail(new Error(`${this.jid}: stream error ${xml.slice(0, 300)}`));

      return;
    }
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve(xml);
    } else {
      this.queue.push(xml);
    }
  }

  #fail(error) {
    if (this.failure === undefined) {
      this.failure = error;
    }
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
    this.onClosed?.(error);
  }

  #write(text) {
    const socket = this.socket;
    if (socket !== undefined && !socket.destroyed && socket.writable) {
      socket.write(text);
    }
  }
}
