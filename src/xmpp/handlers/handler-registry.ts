import { Injectable } from '@nestjs/common';

import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';

/**
 * Who an IQ is for, as the server sees it (RFC 6121 section 8.5): the
 * server itself, the sender's own account (no `to`, or the sender's bare
 * JID), another local account answered on its owner's behalf, or a
 * resource (full JID) the IQ is routed to.
 */
export type IqTarget =
  | { readonly kind: 'server'; readonly jid: string }
  | { readonly kind: 'self'; readonly jid: string }
  | { readonly kind: 'account'; readonly jid: string }
  | { readonly kind: 'resource'; readonly jid: string; readonly resource: string };

export interface IqRequest {
  readonly session: XmppSession;
  readonly stanza: XmlElement;
  readonly payload: XmlElement;
  readonly type: 'get' | 'set';
  readonly target: IqTarget;
}

/**
 * One IQ payload the server answers. `handle` resolves to the result's
 * payload (or nothing for an empty result) and throws a StanzaError for an
 * error reply; the dispatcher sends exactly one of them.
 */
export interface IqHandler {
  readonly ns: string;
  readonly name: string;
  readonly targets: readonly IqTarget['kind'][];
  handle(request: IqRequest): Promise<XmlElement | undefined> | XmlElement | undefined;
}

/** Handles a stanza of one kind (`message`, `presence`) from a bound session. */
export type StanzaHandler = (session: XmppSession, stanza: XmlElement) => Promise<void>;

/** Handles a top-level element of an extension's namespace that is no stanza (a nonza, XEP-0352's `<active/>`). */
export type NonzaHandler = (session: XmppSession, element: XmlElement) => Promise<void> | void;

/**
 * A service at an address of its own (the `muc.` subdomain of each served
 * domain): it takes every stanza whose `to` domain it claims, IQs
 * included, before the handlers above see them.
 */
export interface XmppComponent {
  /** Synchronous and cheap: asked for the `to` domain of every stanza. */
  claims(domain: string): boolean;
  handle(session: XmppSession, stanza: XmlElement): Promise<void>;
}

/** A disco#items entry of a served domain (XEP-0030 section 4). */
export interface DiscoItem {
  readonly jid: string;
  readonly name?: string;
}

/**
 * Where protocol extensions plug in: IQ payloads by namespace and element
 * name, one handler for messages and one for presence, and the features
 * service discovery lists for each kind of address.
 */
@Injectable()
export class XmppHandlerRegistry {
  private readonly iq = new Map<string, IqHandler>();
  private readonly features = new Map<IqTarget['kind'], Set<string>>();
  private readonly stanzas = new Map<'message' | 'presence', StanzaHandler>();
  private readonly components: XmppComponent[] = [];
  private readonly items: ((domain: string) => DiscoItem[])[] = [];
  private readonly nonzas = new Map<string, NonzaHandler>();
  private readonly boundFeatures: XmlElement[] = [];

  registerIq(handler: IqHandler): void {
    this.iq.set(`${handler.ns} ${handler.name}`, handler);
  }

  findIq(ns: string, name: string): IqHandler | undefined {
    return this.iq.get(`${ns} ${name}`);
  }

  /** Features (XEP-0030 `var`s) to list for an address of this kind. */
  addFeatures(kinds: readonly IqTarget['kind'][], ...vars: string[]): void {
    for (const kind of kinds) {
      let set = this.features.get(kind);
      if (set === undefined) {
        set = new Set();
        this.features.set(kind, set);
      }
      vars.forEach((name) => set.add(name));
    }
  }

  featuresOf(kind: IqTarget['kind']): string[] {
    return [...(this.features.get(kind) ?? [])].sort();
  }

  registerStanza(name: 'message' | 'presence', handler: StanzaHandler): void {
    this.stanzas.set(name, handler);
  }

  stanzaHandler(name: string): StanzaHandler | undefined {
    return name === 'message' || name === 'presence' ? this.stanzas.get(name) : undefined;
  }

  registerComponent(component: XmppComponent): void {
    this.components.push(component);
  }

  /** The component that takes stanzas to `to`, if any. */
  componentFor(to: string | undefined): XmppComponent | undefined {
    if (to === undefined || this.components.length === 0) {
      return undefined;
    }
    const slash = to.indexOf('/');
    const bare = slash === -1 ? to : to.slice(0, slash);
    const domain = bare.slice(bare.lastIndexOf('@') + 1).toLowerCase();

    return this.components.find((component) => component.claims(domain));
  }

  /** Items disco#items lists for a served domain. */
  addServerItems(provider: (domain: string) => DiscoItem[]): void {
    this.items.push(provider);
  }

  serverItems(domain: string): DiscoItem[] {
    return this.items.flatMap((provider) => provider(domain));
  }

  /** Top-level elements of `ns` from a bound session go to `handler`, in stream order. */
  registerNonza(ns: string, handler: NonzaHandler): void {
    this.nonzas.set(ns, handler);
  }

  nonzaHandler(ns: string): NonzaHandler | undefined {
    return this.nonzas.get(ns);
  }

  /** A stream feature offered once authenticated, beside bind (XEP-0352's `<csi/>`). */
  addStreamFeature(feature: XmlElement): void {
    this.boundFeatures.push(feature);
  }

  streamFeatures(): readonly XmlElement[] {
    return this.boundFeatures;
  }
}
