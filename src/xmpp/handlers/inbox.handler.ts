import { Injectable, OnModuleInit } from '@nestjs/common';

import { AppError } from '#src/common/errors/problems.js';
import { createValidationPipe } from '#src/common/validation.js';
import { CONVERSATION_KINDS, InboxFlagsDto, InboxQuery } from '#src/inbox/dto/inbox.dto.js';
import { InboxService } from '#src/inbox/inbox.service.js';
import type { ConversationKind } from '#src/messaging/message-view.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { conversationElement } from '#src/xmpp/handlers/inbox-stanzas.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/** The REST validation, so both doors accept exactly the same queries and flags. */
const validation = createValidationPipe();

/**
 * The inbox over XMPP (`urn:relay:inbox:0`, described in the README): the
 * conversations, counts and flags of `/api/inbox`, read and changed
 * through the same service. A session that listed the inbox gets every
 * later change as a pushed `<update/>`, like a roster's interested resource.
 */
@Injectable()
export class InboxHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly inbox: InboxService,
  ) {}

  onModuleInit(): void {
    const registry = this.registry;
    registry.addFeatures(['server', 'self'], NS.inbox);
    const register = (name: string, handle: (request: IqRequest) => Promise<XmlElement>) =>
      registry.registerIq({
        ns: NS.inbox,
        name,
        targets: ['server', 'self'],
        handle: async (request) => {
          try {
            return await handle(request);
          } catch (error: unknown) {
            throw stanzaErrorOf(error);
          }
        },
      });
    register('query', (request) => this.list(request));
    register('totals', (request) => this.totals(request));
    register('conversation', (request) =>
      request.type === 'get' ? this.get(request) : this.setFlags(request),
    );
    register('reset', (request) => this.reset(request));
  }

  /** GET /api/inbox, paged with RSM (XEP-0059) forwards: `after` is the last entry's message id. */
  private async list({ session, type, payload }: IqRequest): Promise<XmlElement> {
    onlyType(type, 'get');
    const set = payload.child('set', NS.rsm);
    if (set?.child('before', NS.rsm) !== undefined || set?.child('index', NS.rsm) !== undefined) {
      throw new StanzaError('feature-not-implemented', 'the inbox pages forwards only, with after');
    }
    const query = (await validation.transform(
      defined({
        unread: payload.attr('unread'),
        archived: payload.attr('archived'),
        type: payload.attr('type'),
        limit: set?.childText('max', NS.rsm)?.trim(),
        before_id: set?.childText('after', NS.rsm)?.trim(),
      }),
      { type: 'query', metatype: InboxQuery },
    )) as InboxQuery;
    const entries = await this.inbox.list(session.user, query);
    session.inboxRequested = true;
    const first = entries[0];
    const last = entries.at(-1);

    return el(
      'query',
      NS.inbox,
      {},
      ...entries.map(conversationElement),
      el(
        'set',
        NS.rsm,
        {},
        first === undefined ? undefined : el('first', NS.rsm, {}, first.last_message.id),
        last === undefined ? undefined : el('last', NS.rsm, {}, last.last_message.id),
      ),
    );
  }

  /** GET /api/inbox/unread. */
  private async totals({ session, type }: IqRequest): Promise<XmlElement> {
    onlyType(type, 'get');
    const total = await this.inbox.unreadTotal(session.user);

    return el('totals', NS.inbox, {
      unread: String(total.unread),
      conversations: String(total.conversations),
      'muted-unread': String(total.muted_unread),
    });
  }

  /** GET /api/inbox/{type}/{id}. */
  private async get({ session, payload }: IqRequest): Promise<XmlElement> {
    const { kind, id } = conversationOf(payload);

    return conversationElement(await this.inbox.get(session.user, kind, id));
  }

  /** PUT /api/inbox/{type}/{id}: the flags given change, the others stay. */
  private async setFlags({ session, payload }: IqRequest): Promise<XmlElement> {
    const { kind, id } = conversationOf(payload);
    const muted = payload.attr('muted-until');
    const flags = (await validation.transform(
      defined({
        muted_until: muted === undefined ? undefined : muted === '' ? null : timestamp(muted),
        archived: booleanOf(payload.attr('archived'), 'archived'),
        pinned: booleanOf(payload.attr('pinned'), 'pinned'),
      }),
      { type: 'body', metatype: InboxFlagsDto },
    )) as InboxFlagsDto;

    return conversationElement(await this.inbox.setFlags(session.user, kind, id, flags));
  }

  /** POST /api/inbox/{type}/{id}/reset. */
  private async reset({ session, type, payload }: IqRequest): Promise<XmlElement> {
    onlyType(type, 'set');
    const { kind, id } = conversationOf(payload);

    return conversationElement(await this.inbox.reset(session.user, kind, id));
  }
}

function onlyType(actual: 'get' | 'set', expected: 'get' | 'set'): void {
  if (actual !== expected) {
    throw new StanzaError('bad-request', `this inbox request is a ${expected}`);
  }
}

function conversationOf(element: XmlElement): { kind: ConversationKind; id: string } {
  const kind = element.attr('type');
  const id = element.attr('id');
  if (kind === undefined || !(CONVERSATION_KINDS as readonly string[]).includes(kind)) {
    throw new StanzaError('bad-request', 'type is chat or room');
  }
  if (id === undefined || id === '') {
    throw new StanzaError('bad-request', 'a conversation needs an id');
  }

  return { kind: kind as ConversationKind, id };
}

/** An XML Schema boolean (`true`, `false`, `1`, `0`), or absent. */
function booleanOf(value: string | undefined, name: string): boolean | undefined {
  switch (value) {
    case undefined:
      return undefined;
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw new StanzaError('bad-request', `${name} is true or false`);
  }
}

/** An XEP-0082 date-time, as epoch milliseconds. */
function timestamp(value: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)
    ? Date.parse(value)
    : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new StanzaError('bad-request', 'muted-until is an XEP-0082 date-time, or empty');
  }

  return ms;
}

/** The fields given, as a request body or query string would carry them. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function stanzaErrorOf(error: unknown): unknown {
  if (error instanceof AppError && error.code === 'conversation-not-found') {
    return new StanzaError('item-not-found', error.message);
  }

  return toStanzaError(error);
}
