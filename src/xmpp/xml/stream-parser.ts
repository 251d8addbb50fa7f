import { SaxesParser, type SaxesTagNS, type XMLDecl } from 'saxes';

import { XmlElement } from '#src/xmpp/xml/element.js';

/** Stream error conditions (RFC 6120 section 4.9.3) the parser itself can raise. */
export type XmlErrorCondition =
  'not-well-formed' | 'restricted-xml' | 'policy-violation' | 'unsupported-encoding';

export class XmlStreamError extends Error {
  constructor(
    readonly condition: XmlErrorCondition,
    message: string,
  ) {
    super(message);
  }
}

export interface XmlStreamHandler {
  /** The root element opened: the stream header, a BOSH `<body>`; no children. */
  onOpen(root: XmlElement): void;
  /** A complete child of the root: a stanza or a stream-level element. */
  onElement(element: XmlElement): void;
  /** The root element closed. */
  onClose(): void;
  /** The input broke a rule; nothing more is parsed. */
  onError(error: XmlStreamError): void;
}

export interface XmlStreamOptions {
  /** Largest child of the root, in bytes of input, enforced while it arrives. */
  readonly maxStanzaBytes: number;
  /** Deepest nesting inside a stanza. */
  readonly maxDepth?: number;
  /**
   * Text fed before the input and never reported, for transports whose
   * messages have no root of their own (RFC 7395 frames): its root is the
   * context namespaces of every element that follows.
   */
  readonly syntheticRoot?: string;
}

/** Input is fed to saxes in pieces this large, so sizes are checked at least this often. */
const PIECE_BYTES = 8192;
const DEFAULT_MAX_DEPTH = 32;

/**
 * The parts of saxes 6.0.0 (pinned) that the strict entity check below
 * reaches into. saxes reads an entity reference up to the next `;` however
 * far that is, so `a & b</body>` would swallow the stanzas after it until
 * some `;` came: a stalled stream. The check fails on the first character
 * that cannot be in a predefined entity or a character reference.
 */
interface SaxesInternals {
  stateTable: ((this: SaxesInternals) => void)[];
  state: number;
  chunk: string;
  i: number;
  entity: string;
  fail(message: string): void;
}
const S_TEXT = 13;
const S_ENTITY = 14;
/** `#x10FFFF` is the longest reference XMPP can carry; `quot` the longest predefined name. */
const MAX_ENTITY_CHARS = 8;
const ENTITY_CHAR = /[A-Za-z0-9#]/;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;

function installStrictEntities(parser: SaxesParser<{ xmlns: true }>): void {
  const internals = parser as unknown as SaxesInternals;
  const original = internals.stateTable[S_ENTITY];
  const expected = (SaxesParser.prototype as unknown as { sEntity?: unknown }).sEntity;
  if (original === undefined || original !== expected) {
    throw new Error('saxes internals are not those of 6.0.0');
  }
  internals.stateTable[S_ENTITY] = function strictEntity(this: SaxesInternals) {
    const { chunk } = this;
    let length = this.entity.length;
    for (let i = this.i; i < chunk.length; i++) {
      const character = chunk[i]!;
      if (character === ';') {
        break;
      }
      length += 1;
      if (!ENTITY_CHAR.test(character) || length > MAX_ENTITY_CHARS) {
        this.fail('disallowed character in entity reference.');
      }
    }
    original.call(this);
  };
}

/**
 * The one XML parser of the gateway, over saxes (strict, namespace-aware,
 * never expands entities: it has no DTD support at all).
 *
 * XMPP is a restricted profile of XML (RFC 6120 section 11.1): comments,
 * processing instructions, DTDs and entity references other than the five
 * predefined ones are refused with `restricted-xml`. The size of each child
 * of the root is counted in bytes as it arrives, and a stanza over the limit
 * is refused with `policy-violation` long before it is buffered whole; the
 * same bound applies between stanzas, so an endless tag name or whitespace
 * cannot grow memory either.
 */
export class XmlStreamParser {
  private readonly saxes: SaxesParser<{ xmlns: true }>;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly stack: XmlElement[] = [];
  private readonly maxDepth: number;
  private failed = false;
  private rootOpen = false;
  private rootClosed = false;
  /** Byte offset of the input where the current stanza (or the gap before it) began. */
  private markByte = 0;
  private inStanza = false;
  private pieceStartByte = 0;
  private pieceStartChar = 0;
  private pieceText = '';
  private pieceAscii = true;
  private readonly synthetic: boolean;

  constructor(
    private readonly handler: XmlStreamHandler,
    private readonly options: XmlStreamOptions,
  ) {
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.synthetic = options.syntheticRoot !== undefined;
    this.saxes = new SaxesParser({ xmlns: true, position: true });
    installStrictEntities(this.saxes);
    this.saxes.on('xmldecl', (decl) => this.onXmlDecl(decl));
    this.saxes.on('opentag', (tag) => this.onOpenTag(tag));
    this.saxes.on('opentagstart', (tag) => this.onOpenTagStart(tag));
    this.saxes.on('closetag', () => this.onCloseTag());
    this.saxes.on('text', (text) => this.onText(text));
    this.saxes.on('cdata', (text) => this.onText(text));
    this.saxes.on('comment', () => this.refuse('restricted-xml', 'comments are not allowed'));
    this.saxes.on('processinginstruction', () =>
      this.refuse('restricted-xml', 'processing instructions are not allowed'),
    );
    this.saxes.on('doctype', () =>
      this.refuse('restricted-xml', 'document type declarations are not allowed'),
    );
    if (options.syntheticRoot !== undefined) {
      this.saxes.write(options.syntheticRoot);
      this.pieceStartChar = this.saxes.position;
    }
  }

  get closed(): boolean {
    return this.failed || this.rootClosed;
  }

  /** Feeds input; false once the stream has failed or ended (nothing more is parsed). */
  write(input: Buffer | string): boolean {
    const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
    for (let start = 0; start < data.length && !this.closed; start += PIECE_BYTES) {
      this.feed(data.subarray(start, Math.min(data.length, start + PIECE_BYTES)));
    }

    return !this.closed;
  }

  private feed(piece: Buffer): void {
    try {
      const text = this.decoder.decode(piece, { stream: true });
      if (this.betweenStanzas() && WHITESPACE_ONLY.test(text)) {
        // Whitespace keepalives between stanzas (RFC 6120 section 4.6.1) mean nothing; not buffered.
        this.pieceStartByte += piece.length;
        this.markByte = this.pieceStartByte;

        return;
      }
      this.pieceStartChar = this.saxes.position;
      this.pieceText = text;
      this.pieceAscii = text.length === piece.length;
      this.saxes.write(text);
      this.pieceStartByte += piece.length;
      // Inside a stanza or in the gap before one, nothing may grow past the limit.
      if (!this.rootClosed && this.pieceStartByte - this.markByte > this.options.maxStanzaBytes) {
        this.refuse('policy-violation', `stanza larger than ${this.options.maxStanzaBytes} bytes`);
      }
    } catch (error: unknown) {
      this.fail(error);
    }
  }

  private betweenStanzas(): boolean {
    return (
      this.stack.length === 1 &&
      !this.inStanza &&
      (this.saxes as unknown as SaxesInternals).state === S_TEXT
    );
  }

  /** The byte offset in the input of saxes' current position. */
  private offset(): number {
    const chars = this.saxes.position - this.pieceStartChar;
    const bytes = this.pieceAscii
      ? chars
      : Buffer.byteLength(this.pieceText.slice(0, Math.max(0, chars)), 'utf8');

    return this.pieceStartByte + bytes;
  }

  private onXmlDecl(decl: XMLDecl): void {
    if (decl.encoding !== undefined && !/^utf-?8$/i.test(decl.encoding)) {
      this.refuse('unsupported-encoding', `encoding ${decl.encoding} is not UTF-8`);
    }
  }

  private onOpenTagStart(tag: { name: string }): void {
    if (this.stack.length === 1 && !this.inStanza) {
      this.inStanza = true;
      // saxes is past `<`, the name and the character after it.
      this.markByte = this.offset() - Buffer.byteLength(tag.name, 'utf8') - 2;
    }
  }

  private onOpenTag(tag: SaxesTagNS): void {
    const attrs: Record<string, string> = {};
    const depth = this.stack.length;
    for (const name in tag.attributes) {
      const attribute = tag.attributes[name]!;
      // Namespace declarations are kept on the root only, where the stream header's are checked.
      if (depth === 0 || (attribute.prefix !== 'xmlns' && attribute.name !== 'xmlns')) {
        attrs[attribute.name] = attribute.value;
      }
    }
    const element = new XmlElement(tag.local, tag.uri, attrs);
    if (depth === 0) {
      this.rootOpen = true;
      if (this.synthetic) {
        this.stack.push(element);

        return;
      }
      this.markByte = this.offset();
      this.handler.onOpen(element);
      if (tag.isSelfClosing) {
        // An empty root (a BOSH `<body/>`) opens and closes at once.
        this.rootClosed = true;
        this.handler.onClose();

        return;
      }
      this.stack.push(element);

      return;
    }
    if (depth > this.maxDepth) {
      this.refuse('policy-violation', `elements nested deeper than ${this.maxDepth}`);
    }
    if (depth > 1) {
      this.stack[depth - 1]!.children.push(element);
    }
    this.stack.push(element);
  }

  private onCloseTag(): void {
    const element = this.stack.pop();
    const depth = this.stack.length;
    if (element === undefined) {
      return;
    }
    if (depth === 0) {
      // A self-closed root was never pushed; a closed root ends the stream.
      this.rootClosed = true;
      this.handler.onClose();

      return;
    }
    if (depth === 1) {
      const end = this.offset();
      if (end - this.markByte > this.options.maxStanzaBytes) {
        this.refuse('policy-violation', `stanza larger than ${this.options.maxStanzaBytes} bytes`);
      }
      this.inStanza = false;
      this.markByte = end;
      this.handler.onElement(element);
    }
  }

  private onText(text: string): void {
    const depth = this.stack.length;
    if (depth >= 2) {
      const parent = this.stack[depth - 1]!;
      const last = parent.children.length - 1;
      // saxes may report one text node in parts (around CDATA); keep them as one string.
      if (last >= 0 && typeof parent.children[last] === 'string') {
        parent.children[last] = parent.children[last] + text;
      } else {
        parent.children.push(text);
      }
    } else if (depth === 1) {
      // Whitespace between stanzas (keepalives) starts a new gap.
      this.markByte = this.offset();
    }
  }

  private refuse(condition: XmlErrorCondition, message: string): never {
    throw new XmlStreamError(condition, message);
  }

  private fail(error: unknown): void {
    if (this.failed) {
      return;
    }
    this.failed = true;
    this.stack.length = 0;
    let streamError: XmlStreamError;
    if (error instanceof XmlStreamError) {
      streamError = error;
    } else if (error instanceof TypeError) {
      streamError = new XmlStreamError('not-well-formed', 'the input is not valid UTF-8');
    } else {
      const message = error instanceof Error ? error.message : String(error);
      streamError = new XmlStreamError(
        /undefined entity|doctype|incorrect syntax/.test(message)
          ? 'restricted-xml'
          : 'not-well-formed',
        message.replace(/^[^:]*:\d+:\d+: /, ''),
      );
    }
    this.handler.onError(streamError);
  }

  /** Whether the root element has been seen. */
  get opened(): boolean {
    return this.rootOpen;
  }
}
