import { Injectable, OnModuleInit } from '@nestjs/common';

import { RosterService } from '#src/contacts/roster.service.js';
import { SubscriptionsService } from '#src/contacts/subscriptions.service.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { rosterItem } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** The limits the REST API puts on a contact's fields (ContactFieldsDto). */
const MAX_GROUPS = 64;
const MAX_TEXT = 1023;

/**
 * The roster (RFC 6121 section 2) over the contacts store REST uses: a get
 * lists it and makes the session an interested resource; a set adds,
 * renames, regroups or removes one item. Every change is pushed by the
 * contacts service to all of the user's sessions, on every transport.
 */
@Injectable()
export class RosterHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly roster: RosterService,
    private readonly subscriptions: SubscriptionsService,
  ) {}

  onModuleInit(): void {
    this.registry.registerIq({
      ns: NS.roster,
      name: 'query',
      targets: ['self'],
      handle: (request) => (request.type === 'get' ? this.get(request) : this.set(request)),
    });
  }

  private async get({ session }: IqRequest): Promise<XmlElement> {
    const items = await this.roster.list(session.user);
    session.rosterRequested = true;

    return el('query', NS.roster, {}, ...items.map(rosterItem));
  }

  /** RFC 6121 section 2.3 and 2.5: exactly one item; the item given replaces name and groups. */
  private async set({ session, payload }: IqRequest): Promise<undefined> {
    const items = payload.elements().filter((child) => child.is('item', NS.roster));
    if (items.length !== 1 || payload.elements().length !== 1) {
      throw new StanzaError('bad-request', 'a roster set carries exactly one item');
    }
    const item = items[0]!;
    const jid = item.attr('jid');
    if (jid === undefined) {
      throw new StanzaError('bad-request', 'a roster item needs a jid');
    }
    const subscription = item.attr('subscription');
    try {
      if (subscription === 'remove') {
        if (!(await this.subscriptions.remove(session.user, jid))) {
          throw new StanzaError('item-not-found', `${jid} is not in the roster`);
        }

        return undefined;
      }
      if (subscription !== undefined && subscription !== 'none') {
        // Section 2.1.2.5: a client cannot set a subscription state.
        throw new StanzaError('bad-request', 'subscription is set by presence stanzas');
      }
      await this.roster.add(session.user, jid, fieldsOf(item));
    } catch (error: unknown) {
      throw toStanzaError(error);
    }

    return undefined;
  }
}

function fieldsOf(item: XmlElement): { name: string | null; groups: string[] } {
  const name = item.attr('name');
  const groups = item
    .elements()
    .filter((child) => child.is('group', NS.roster))
    .map((group) => group.text().trim());
  if (groups.length > MAX_GROUPS) {
    throw new StanzaError('not-acceptable', `at most ${MAX_GROUPS} groups`);
  }
  // Section 2.3.3: empty or overlong groups, and overlong names, are not acceptable.
  if ((name?.length ?? 0) > MAX_TEXT) {
    throw new StanzaError('not-acceptable', 'a name is at most 1023 characters');
  }
  for (const text of groups) {
    if (text === '' || text.length > MAX_TEXT) {
      throw new StanzaError('not-acceptable', 'a group is 1 to 1023 characters');
    }
  }

  return { name: name === undefined || name === '' ? null : name, groups };
}
