import type { XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** Stanzas held for an inactive client before they all go out anyway. */
export const CSI_MAX_HELD = 200;

interface Held {
  readonly element: XmlElement;
  /** Stanzas with the same key replace each other: only the newest is worth sending. */
  readonly key?: string;
  /** The bare JID whose chat state this is, dropped once a message from it goes out. */
  readonly stateOf?: string;
}

/**
 * What an inactive client (XEP-0352) is spared until it is active again:
 * presence (the newest per contact resource), chat states (the newest per
 * contact), markers, receipts and their carbons. Messages with a body,
 * IQs, subscription requests and errors are never held; the held stanzas
 * go out in the order they came.
 */
export class CsiBuffer {
  private held: Held[] = [];

  get size(): number {
    return this.held.length;
  }

  /** Holds `element` and answers true, or answers false for one that goes out now. */
  hold(element: XmlElement): boolean {
    const entry = classify(element);
    if (entry === undefined) {
      const from = element.is('message') ? bareOf(element.attr('from')) : undefined;
      if (from !== undefined) {
        // The message says more than the typing that came before it (XEP-0085 section 5.2).
        this.held = this.held.filter((held) => held.stateOf !== from);
      }

      return false;
    }
    if (entry.key !== undefined) {
      this.held = this.held.filter((held) => held.key !== entry.key);
    }
    this.held.push(entry);

    return true;
  }

  /** Everything held, oldest first; the buffer is empty afterwards. */
  drain(): XmlElement[] {
    const elements = this.held.map((held) => held.element);
    this.held = [];

    return elements;
  }
}

function classify(element: XmlElement): Held | undefined {
  const type = element.attr('type');
  if (element.is('presence', NS.client)) {
    // Available and unavailable only: subscription requests and errors wait for no one.
    return type === undefined || type === 'unavailable'
      ? { element, key: `presence ${element.attr('from') ?? ''}` }
      : undefined;
  }
  if (!element.is('message', NS.client) || type === 'error' || type === 'groupchat') {
    return undefined;
  }
  const carbon = element.elements().find((child) => child.ns === NS.carbons);
  const inner = carbon?.child('forwarded', NS.forward)?.child('message', NS.client) ?? element;
  if (inner.child('body', NS.client) !== undefined) {
    return undefined;
  }
  const state = inner.elements().find((child) => child.ns === NS.chatStates);
  if (state !== undefined && carbon === undefined) {
    const from = bareOf(element.attr('from'));

    return {
      element,
      key: `state ${from ?? ''}`,
      ...(from === undefined ? {} : { stateOf: from }),
    };
  }

  return { element };
}

function bareOf(jid: string | undefined): string | undefined {
  if (jid === undefined) {
    return undefined;
  }
  const slash = jid.indexOf('/');

  return slash === -1 ? jid : jid.slice(0, slash);
}
