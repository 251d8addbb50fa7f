import type { StanzaData } from '#src/routing/server-events.js';

const STREAM_NS = 'http://etherx.jabber.org/streams';

/**
 * A parsed or built XML element, as small as a stanza tree can be: the local
 * name, the resolved namespace, attributes by qualified name (namespace
 * declarations are not attributes here) and children in document order.
 */
export class XmlElement {
  readonly children: (XmlElement | string)[] = [];

  constructor(
    readonly name: string,
    readonly ns: string,
    readonly attrs: Record<string, string> = {},
  ) {}

  /** An element again from its plain-data form (after JSON, across nodes). */
  static from(data: StanzaData): XmlElement {
    if (data instanceof XmlElement) {
      return data;
    }
    const element = new XmlElement(data.name, data.ns, { ...data.attrs });
    for (const child of data.children) {
      element.children.push(typeof child === 'string' ? child : XmlElement.from(child));
    }

    return element;
  }

  /** Appends children; `undefined` and `false` are skipped, so optional parts read inline. */
  append(...children: (XmlElement | string | undefined | false)[]): this {
    for (const child of children) {
      if (child !== undefined && child !== false && child !== '') {
        this.children.push(child);
      }
    }

    return this;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  is(name: string, ns?: string): boolean {
    return this.name === name && (ns === undefined || this.ns === ns);
  }

  /** The first child element with this name (and namespace, when given). */
  child(name: string, ns?: string): XmlElement | undefined {
    for (const child of this.children) {
      if (typeof child !== 'string' && child.is(name, ns)) {
        return child;
      }
    }

    return undefined;
  }

  elements(): XmlElement[] {
    return this.children.filter((child): child is XmlElement => typeof child !== 'string');
  }

  text(): string {
    let text = '';
    for (const child of this.children) {
      if (typeof child === 'string') {
        text += child;
      }
    }

    return text;
  }

  childText(name: string, ns?: string): string | undefined {
    return this.child(name, ns)?.text();
  }

  /**
   * Serializes the element; `contextNs` is the default namespace in scope,
   * not repeated. Elements of the streams namespace are written with the
   * customary `stream:` prefix (RFC 6120 section 4.8.5), declared unless
   * `streamPrefixInScope` says a stream header already did.
   */
  toXml(contextNs = '', streamPrefixInScope = false): string {
    const prefixed = this.ns === STREAM_NS;
    const tag = prefixed ? `stream:${this.name}` : this.name;
    let out = `<${tag}`;
    if (prefixed) {
      if (!streamPrefixInScope) {
        out += ` xmlns:stream="${STREAM_NS}"`;
      }
    } else if (this.ns !== contextNs) {
      out += ` xmlns="${escapeAttr(this.ns)}"`;
    }
    for (const name in this.attrs) {
      const value = this.attrs[name];
      if (value !== undefined) {
        out += ` ${name}="${escapeAttr(value)}"`;
      }
    }
    if (this.children.length === 0) {
      return `${out}/>`;
    }
    out += '>';
    const childNs = prefixed ? contextNs : this.ns;
    for (const child of this.children) {
      out += typeof child === 'string' ? escapeText(child) : child.toXml(childNs, true);
    }

    return `${out}</${tag}>`;
  }
}

/** Builds an element: `el('iq', NS.client, {type: 'result'}, child, 'text')`. */
export function el(
  name: string,
  ns: string,
  attrs: Record<string, string | undefined> = {},
  ...children: (XmlElement | string | undefined | false)[]
): XmlElement {
  const defined: Record<string, string> = {};
  for (const key in attrs) {
    const value = attrs[key];
    if (value !== undefined) {
      defined[key] = value;
    }
  }

  return new XmlElement(name, ns, defined).append(...children);
}

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
const ATTR_ESCAPES: Record<string, string> = {
  ...TEXT_ESCAPES,
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

export function escapeText(text: string): string {
  // `>` too, so that `]]>` never appears in character data (XML 1.0 section 2.4).
  return /[&<>\r]/.test(text)
    ? text.replace(/[&<>\r]/g, (c) => (c === '\r' ? '&#13;' : TEXT_ESCAPES[c]!))
    : text;
}

export function escapeAttr(text: string): string {
  return /[&<>"'\t\n\r]/.test(text)
    ? text.replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c]!)
    : text;
}
