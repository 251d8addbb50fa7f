import { isUtf8 } from 'node:buffer';

import { SaxesParser, type SaxesTagNS, type XMLDecl } from 'saxes';

import { escapeAttr, XmlElement } from '#src/xmpp/xml/element.js';
import type { IdleRelease } from '#src/xmpp/xml/idle-release.js';

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
  /** Where the parser is watched for idleness, to let go of its parse state between stanzas. */
  readonly idleRelease?: IdleRelease;
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
  /** Text read since the last tag, not yet reported. */
  text: string;
  /** Progress towards a `]]>` in text, which is an error (0: none). */
  forbiddenState: number;
  /** A CR or high surrogate held back from the end of the last write. */
  carriedFromPrevious?: string;
  fail(message: string): void;
  closeTag: (this: SaxesInternals) => void;
  /** The name in the end tag being read; saxes clears it before it reports the element closed. */
  name: string;
}
const S_TEXT = 13;
const S_ENTITY = 14;
const FORBIDDEN_START = 0;
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
 * saxes reports the innermost open element closed before it checks that the
 * end tag names it, so `<message><body>hi</body></iq>` would hand over a
 * complete `<message/>` and fail only after it had been acted on. This keeps
 * the name of each end tag where `onCloseTag` can compare it first.
 */
function recordEndTagNames(parser: SaxesParser<{ xmlns: true }>): { name: string } {
  const internals = parser as unknown as SaxesInternals;
  const original = internals.closeTag;
  const endTag = { name: '' };
  internals.closeTag = function recordingCloseTag(this: SaxesInternals) {
    endTag.name = this.name;
    original.call(this);
  };

  return endTag;
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
 *
 * Between stanzas, the saxes object is all the state there is besides the
 * root element and a few counters, and it is most of a stream's memory. A
 * parser that is idle there may drop it (`release`, or the shared
 * IdleRelease): the next input builds a new one and replays the root's
 * start tag into it, so the root's namespace declarations are in scope again
 * and its end tag still has to match. Input is decoded without per-stream
 * decoder state: complete UTF-8 sequences are validated and decoded at once,
 * and the at most three bytes of one cut by the end of a write wait for the next.
 */
export class XmlStreamParser {
  private saxes?: SaxesParser<{ xmlns: true }>;
  private readonly stack: XmlElement[] = [];
  private readonly maxDepth: number;
  private failed = false;
  private rootOpen = false;
  private rootClosed = false;
  /**
   * The root's start tag as a rebuilt saxes object reads it: its qualified
   * name as the input spelt it and its namespace declarations, after the XML
   * declaration's version if there was one (to parse by the same rules).
   */
  private rootTag?: string;
  /** The version of the XML declaration, until the root opens. */
  private xmlVersion?: string;
  /** Set while a rebuilt saxes reads the replayed root: nothing of it is reported again. */
  private replaying = false;
  /** Input since the idle watcher last looked. */
  private active = true;
  /** Byte offset of the input where the current stanza (or the gap before it) began. */
  private markByte = 0;
  private inStanza = false;
  /** Input bytes taken so far, the held-back tail of a UTF-8 sequence included. */
  private takenBytes = 0;
  /** The start of a UTF-8 sequence cut by the end of the last write (up to 3 bytes). */
  private heldBytes?: Buffer;
  /** Byte offset in the input of the first character given to saxes in the current piece. */
  private pieceStartByte = 0;
  private pieceStartChar = 0;
  private pieceText = '';
  private pieceAscii = true;

  constructor(
    private readonly handler: XmlStreamHandler,
    private readonly options: XmlStreamOptions,
  ) {
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (options.syntheticRoot !== undefined) {
      this.parserState();
    }
  }

  get closed(): boolean {
    return this.failed || this.rootClosed;
  }

  /** Feeds input; false once the stream has failed or ended (nothing more is parsed). */
  write(input: Buffer | string): boolean {
    const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
    this.active = true;
    for (let start = 0; start < data.length && !this.closed; start += PIECE_BYTES) {
      this.feed(data.subarray(start, Math.min(data.length, start + PIECE_BYTES)));
    }

    return !this.closed;
  }

  /** Whether the parser holds parse state now (a saxes object), rather than only its counters. */
  get holdsState(): boolean {
    return this.saxes !== undefined;
  }

  /**
   * Drops the parse state if the parser is between stanzas with nothing
   * pending; the next input rebuilds it. True when nothing is held any more.
   */
  release(): boolean {
    if (this.saxes === undefined) {
      return true;
    }
    if (this.closed) {
      this.saxes = undefined;

      return true;
    }
    const internals = this.saxes as unknown as SaxesInternals;
    const idle =
      this.betweenStanzas() &&
      internals.forbiddenState === FORBIDDEN_START &&
      internals.carriedFromPrevious === undefined &&
      WHITESPACE_ONLY.test(internals.text);
    if (idle) {
      // Pending whitespace between stanzas means nothing (RFC 6120 section 4.6.1); it goes too.
      this.saxes = undefined;
    }

    return idle;
  }

  /** For IdleRelease: releases the state if there was no input since the last call. */
  releaseIfQuiet(): boolean {
    if (this.active) {
      this.active = false;

      return this.saxes === undefined;
    }

    return this.release();
  }

  private feed(piece: Buffer): void {
    try {
      const text = this.decode(piece);
      if (this.betweenStanzas() && WHITESPACE_ONLY.test(text)) {
        // Whitespace keepalives between stanzas (RFC 6120 section 4.6.1) mean nothing; not buffered.
        this.markByte = this.takenBytes;

        return;
      }
      const saxes = this.parserState();
      this.pieceStartChar = saxes.position;
      this.pieceText = text;
      try {
        saxes.write(text);
      } finally {
        // Only positions inside this write need it; kept, it would pin the text of the last read.
        this.pieceText = '';
      }
      // Inside a stanza or in the gap before one, nothing may grow past the limit.
      if (!this.rootClosed && this.takenBytes - this.markByte > this.options.maxStanzaBytes) {
        this.refuse('policy-violation', `stanza larger than ${this.options.maxStanzaBytes} bytes`);
      }
    } catch (error: unknown) {
      this.fail(error);
    }
  }

  /**
   * The text of the complete UTF-8 sequences so far, checked strictly: an
   * invalid byte, an overlong form or a surrogate fails as unsupported-encoding
   * however the input was cut. A lead byte and what may follow it, cut off
   * by the end of the piece, is held until the next one.
   */
  private decode(piece: Buffer): string {
    const bytes = this.heldBytes === undefined ? piece : Buffer.concat([this.heldBytes, piece]);
    const held = heldTail(bytes);
    const complete = held === 0 ? bytes : bytes.subarray(0, bytes.length - held);
    this.heldBytes = held === 0 ? undefined : Buffer.from(bytes.subarray(bytes.length - held));
    if (!isUtf8(complete)) {
      // RFC 6120 section 4.9.3.22: violating the rules of UTF-8 is an encoding error.
      throw new XmlStreamError('unsupported-encoding', 'the input is not valid UTF-8');
    }
    this.pieceStartByte = this.takenBytes - (bytes.length - piece.length);
    this.takenBytes += piece.length;
    let text = complete.toString('utf8');
    this.pieceAscii = text.length === complete.length;
    if (this.pieceStartByte === 0 && text.charCodeAt(0) === BYTE_ORDER_MARK) {
      // A byte order mark opening the stream is no part of the document, as a TextDecoder has it.
      text = text.slice(1);
      this.pieceStartByte = 3;
      this.pieceAscii = text.length === complete.length - 3;
    }

    return text;
  }

  private betweenStanzas(): boolean {
    return (
      this.stack.length === 1 &&
      !this.inStanza &&
      (this.saxes === undefined || (this.saxes as unknown as SaxesInternals).state === S_TEXT)
    );
  }

  /**
   * The saxes object, built on first use and again after a release: a
   * rebuilt one reads the root's start tag (or the synthetic root) again.
   */
  private parserState(): SaxesParser<{ xmlns: true }> {
    if (this.saxes !== undefined) {
      return this.saxes;
    }
    const saxes = new SaxesParser({ xmlns: true, position: true });
    installStrictEntities(saxes);
    saxes.on('xmldecl', (decl) => this.onXmlDecl(decl));
    saxes.on('opentag', (tag) => this.onOpenTag(tag));
    saxes.on('opentagstart', (tag) => this.onOpenTagStart(tag));
    const endTag = recordEndTagNames(saxes);
    saxes.on('closetag', (tag) => this.onCloseTag(tag, endTag.name));
    saxes.on('text', (text) => this.onText(text));
    saxes.on('cdata', (text) => this.onText(text));
    saxes.on('comment', () => this.refuse('restricted-xml', 'comments are not allowed'));
    saxes.on('processinginstruction', () =>
      this.refuse('restricted-xml', 'processing instructions are not allowed'),
    );
    saxes.on('doctype', () =>
      this.refuse('restricted-xml', 'document type declarations are not allowed'),
    );
    this.saxes = saxes;
    const replay = this.replayedRoot();
    if (replay !== undefined) {
      this.replaying = this.rootOpen;
      try {
        saxes.write(replay);
      } finally {
        this.replaying = false;
      }
    }
    this.options.idleRelease?.watch(this);

    return saxes;
  }

  /** What a new saxes object reads first: the synthetic root, or the start tag of the one read. */
  private replayedRoot(): string | undefined {
    return this.options.syntheticRoot ?? this.rootTag;
  }

  /** The byte offset in the input of saxes' current position. */
  private offset(): number {
    const chars = this.saxes!.position - this.pieceStartChar;
    const bytes = this.pieceAscii
      ? chars
      : Buffer.byteLength(this.pieceText.slice(0, Math.max(0, chars)), 'utf8');

    return this.pieceStartByte + bytes;
  }

  private onXmlDecl(decl: XMLDecl): void {
    if (this.replaying) {
      return;
    }
    this.xmlVersion = decl.version;
    if (decl.encoding !== undefined && !/^utf-?8$/i.test(decl.encoding)) {
      this.refuse('unsupported-encoding', `encoding ${decl.encoding} is not UTF-8`);
    }
  }

  private onOpenTagStart(tag: { name: string }): void {
    if (this.replaying) {
      return;
    }
    if (this.stack.length === 1 && !this.inStanza) {
      this.inStanza = true;
      // saxes is past `<`, the name and the character after it.
      this.markByte = this.offset() - Buffer.byteLength(tag.name, 'utf8') - 2;
    }
  }

  private onOpenTag(tag: SaxesTagNS): void {
    if (this.replaying) {
      return;
    }
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
      if (this.options.syntheticRoot !== undefined) {
        this.stack.push(STREAM_LEVEL);

        return;
      }
      this.markByte = this.offset();
      this.rootTag = startTagOf(tag, this.xmlVersion);
      this.xmlVersion = undefined;
      this.handler.onOpen(element);
      if (tag.isSelfClosing) {
        // An empty root (a BOSH `<body/>`) opens and closes at once.
        this.rootClosed = true;
        this.handler.onClose();

        return;
      }
      // The root's children are reported, never added to it: it need not be kept.
      this.stack.push(STREAM_LEVEL);

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

  private onCloseTag(tag: SaxesTagNS, endTagName: string): void {
    if (!tag.isSelfClosing && tag.name !== endTagName) {
      this.refuse('not-well-formed', `end tag </${endTagName}> does not close <${tag.name}>`);
    }
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
    this.saxes = undefined;
    let streamError: XmlStreamError;
    if (error instanceof XmlStreamError) {
      streamError = error;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      streamError = new XmlStreamError(
        /undefined entity|doctype|incorrect syntax/.test(message)
          ? 'restricted-xml'
          : 'not-well-formed',
        message.replace(/^(?:[^:\s]*:)?\d+:\d+: /, ''),
      );
    }
    this.handler.onError(streamError);
  }

  /** Whether the root element has been seen. */
  get opened(): boolean {
    return this.rootOpen;
  }
}

const BYTE_ORDER_MARK = 0xfeff;

/** Stands for the root on the stack once it is open: the stream level, depth 1. */
const STREAM_LEVEL = new XmlElement('', '');

/** A root's start tag with only its namespace declarations, behind the XML declaration's version. */
function startTagOf(tag: SaxesTagNS, xmlVersion: string | undefined): string {
  let text = xmlVersion === undefined ? '' : `<?xml version='${escapeAttr(xmlVersion)}'?>`;
  text += `<${tag.name}`;
  for (const name in tag.attributes) {
    const attribute = tag.attributes[name]!;
    if (attribute.prefix === 'xmlns' || attribute.name === 'xmlns') {
      text += ` ${attribute.name}='${escapeAttr(attribute.value)}'`;
    }
  }

  return `${text}>`;
}

/**
 * How many bytes at the end of `bytes` start a UTF-8 sequence that more
 * input may complete: a valid lead byte and the valid continuation bytes
 * after it so far (RFC 3629 section 4). Anything else is left in, for the
 * validation to refuse at once.
 */
function heldTail(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let back = 1; back <= 3 && back <= end; back++) {
    const byte = bytes[end - back]!;
    if (byte < 0x80) {
      return 0;
    }
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;

      return back < length && validStart(bytes, end - back) ? back : 0;
    }
  }

  return 0;
}

/** Whether the bytes from `start` to the end begin some valid UTF-8 sequence (RFC 3629 section 4). */
function validStart(bytes: Uint8Array, start: number): boolean {
  const lead = bytes[start]!;
  if (lead < 0xc2 || lead > 0xf4) {
    return false;
  }
  const second = bytes[start + 1];
  if (second !== undefined) {
    // The second byte's range depends on the lead: no overlong forms, surrogates or beyond U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (second < low || second > high) {
      return false;
    }
  }
  const third = bytes[start + 2];

  return third === undefined || (third & 0xc0) === 0x80;
}
