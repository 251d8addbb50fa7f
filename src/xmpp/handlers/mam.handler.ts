import { Injectable, OnModuleInit } from '@nestjs/common';

import { isMessageId, lowestIdAt } from '#src/common/ids.js';
import { JidError, normalizeUserJid, parseJid, bareJid } from '#src/common/jid.js';
import { MAX_PAGE_SIZE } from '#src/common/paging.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { isoStamp, renderMessage, type XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

const DEFAULT_MAX = 50;
const LOWEST_ID = '00000000-0000-0000-0000-000000000000';
const FIELDS = ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id'];

export interface MamQuery {
  with?: string;
  start?: number;
  end?: number;
  beforeId?: string;
  afterId?: string;
  max: number;
  /** RSM: page backwards from here (`''`: from the newest). */
  rsmBefore?: string;
  rsmAfter?: string;
}

/**
 * Message archive management (XEP-0313, urn:xmpp:mam:2) with result set
 * management (XEP-0059) over the archive the REST API reads: the result
 * id, the stanza-id and the REST id are one id.
 */
@Injectable()
export class MamHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly archive: ArchiveService,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['self', 'account'], NS.mam, NS.stanzaId);
    this.registry.registerIq({
      ns: NS.mam,
      name: 'query',
      targets: ['self'],
      handle: (request) => (request.type === 'get' ? form() : this.query(request)),
    });
  }

  private async query({ session, payload }: IqRequest): Promise<XmlElement> {
    const query = parseQuery(payload);
    for (const id of [query.beforeId, query.afterId, query.rsmAfter, query.rsmBefore]) {
      if (
        id !== undefined &&
        id !== '' &&
        (await this.archive.find(session.user.id, id)) === undefined
      ) {
        throw new StanzaError('item-not-found', `no message ${id} in this archive`);
      }
    }
    const backward = query.rsmBefore !== undefined;
    const lower = maxId(
      query.afterId,
      query.start === undefined ? undefined : lowestIdAt(query.start),
    );
    const upper = minId(
      query.beforeId,
      backward && query.rsmBefore !== '' ? query.rsmBefore : undefined,
    );
    const rows = await this.archive.page(
      session.user,
      {
        limit: query.max + 1,
        ...(backward
          ? { ...(upper === undefined ? {} : { before_id: upper }) }
          : {
              after_id: maxId(lower, query.rsmAfter) ?? LOWEST_ID,
              ...(upper === undefined ? {} : { before_id: upper }),
            }),
        ...(query.end === undefined ? {} : { before: query.end + 1 }),
      },
      {
        ...(query.with === undefined ? {} : { peer: query.with }),
        ...(backward && lower !== undefined ? { afterId: lower } : {}),
      },
    );
    const more = rows.length > query.max;
    const page = more ? (backward ? rows.slice(1) : rows.slice(0, query.max)) : rows;
    const queryId = payload.attr('queryid');
    for (const view of page) {
      session.send(
        mamResult(session, session.jid, queryId, view, renderMessage(view, session.jid)),
      );
    }

    // Only a first page forward is known to start the set; later pages' positions are not counted.
    return mamFin(page, !more, backward || query.rsmAfter !== undefined ? undefined : '0');
  }
}

/**
 * One archived message as a MAM result (XEP-0313 section 4.2): forwarded
 * (XEP-0297) with its original time, to the session that asked, from the
 * archive's owner.
 */
export function mamResult(
  session: XmppSession,
  archiveJid: string,
  queryId: string | undefined,
  stored: { readonly id: string; readonly timestamp: number },
  message: XmlElement,
): XmlElement {
  return el(
    'message',
    NS.client,
    { to: session.fullJid, from: archiveJid },
    el(
      'result',
      NS.mam,
      { queryid: queryId, id: stored.id },
      el(
        'forwarded',
        NS.forward,
        {},
        el('delay', NS.delay, { stamp: isoStamp(stored.timestamp) }),
        message,
      ),
    ),
  );
}

/**
 * The `<fin/>` that answers a MAM query (XEP-0313 section 4.3), with the
 * page's first and last ids as result set management has them (XEP-0059);
 * `firstIndex` is the first item's index in the whole set, when known.
 */
export function mamFin(
  page: readonly { readonly id: string }[],
  complete: boolean,
  firstIndex?: string,
): XmlElement {
  const first = page[0];
  const last = page.at(-1);

  return el(
    'fin',
    NS.mam,
    { complete: complete ? 'true' : undefined },
    el(
      'set',
      NS.rsm,
      {},
      first === undefined ? undefined : el('first', NS.rsm, { index: firstIndex }, first.id),
      last === undefined ? undefined : el('last', NS.rsm, {}, last.id),
    ),
  );
}

export function form(): XmlElement {
  return el(
    'query',
    NS.mam,
    {},
    el(
      'x',
      NS.dataForms,
      { type: 'form' },
      el(
        'field',
        NS.dataForms,
        { var: 'FORM_TYPE', type: 'hidden' },
        el('value', NS.dataForms, {}, NS.mam),
      ),
      el('field', NS.dataForms, { var: 'with', type: 'jid-single' }),
      el('field', NS.dataForms, { var: 'start', type: 'text-single' }),
      el('field', NS.dataForms, { var: 'end', type: 'text-single' }),
      el('field', NS.dataForms, { var: 'before-id', type: 'text-single' }),
      el('field', NS.dataForms, { var: 'after-id', type: 'text-single' }),
    ),
  );
}

export function parseQuery(payload: XmlElement): MamQuery {
  const query: MamQuery = { max: DEFAULT_MAX };
  const x = payload.child('x', NS.dataForms);
  for (const field of x?.elements() ?? []) {
    if (!field.is('field', NS.dataForms)) {
      continue;
    }
    const name = field.attr('var') ?? '';
    const value = field.childText('value', NS.dataForms)?.trim() ?? '';
    if (!FIELDS.includes(name)) {
      throw new StanzaError('feature-not-implemented', `field ${name} is not supported`);
    }
    if (name === 'FORM_TYPE') {
      if (value !== NS.mam) {
        throw new StanzaError('bad-request', 'FORM_TYPE must be urn:xmpp:mam:2');
      }
    } else if (name === 'with') {
      query.with = withOf(value);
    } else if (name === 'start' || name === 'end') {
      query[name] = timeOf(value, name);
    } else {
      query[name === 'before-id' ? 'beforeId' : 'afterId'] = idOf(value, name);
    }
  }
  const set = payload.child('set', NS.rsm);
  if (set !== undefined) {
    const max = set.childText('max', NS.rsm);
    if (max !== undefined) {
      const parsed = Number(max.trim());
      if (!Number.isInteger(parsed) || parsed < 0) {
        throw new StanzaError('bad-request', 'RSM max must be a non-negative integer');
      }
      query.max = Math.min(parsed, MAX_PAGE_SIZE);
    }
    const before = set.child('before', NS.rsm);
    if (before !== undefined) {
      const text = before.text().trim();
      query.rsmBefore = text === '' ? '' : idOf(text, 'before');
    }
    const after = set.childText('after', NS.rsm)?.trim();
    if (after !== undefined && after !== '') {
      query.rsmAfter = idOf(after, 'after');
    }
    if (set.child('index', NS.rsm) !== undefined) {
      throw new StanzaError('feature-not-implemented', 'RSM index is not supported');
    }
  }

  return query;
}

function withOf(value: string): string {
  try {
    // The archive keeps bare JIDs; a full JID matches its bare JID's conversation.
    const jid = parseJid(value);

    return jid.local === '' ? jid.domain : normalizeUserJid(bareJid(jid));
  } catch (error: unknown) {
    if (error instanceof JidError) {
      throw new StanzaError('jid-malformed', `with: ${error.reason}`);
    }
    throw error;
  }
}

/** XEP-0082 date-time. */
function timeOf(value: string, field: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)
    ? Date.parse(value)
    : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new StanzaError('bad-request', `${field} must be an XEP-0082 date-time`);
  }

  return ms;
}

function idOf(value: string, field: string): string {
  if (!isMessageId(value)) {
    throw new StanzaError('item-not-found', `${field}: no such message`);
  }

  return value;
}

export function maxId(...ids: (string | undefined)[]): string | undefined {
  return ids.reduce<string | undefined>(
    (a, b) => (a === undefined || (b !== undefined && b > a) ? b : a),
    undefined,
  );
}

export function minId(...ids: (string | undefined)[]): string | undefined {
  return ids.reduce<string | undefined>(
    (a, b) => (a === undefined || (b !== undefined && b < a) ? b : a),
    undefined,
  );
}
