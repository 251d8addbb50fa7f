import type { InboxChangeView, InboxEntryView } from '#src/inbox/inbox-view.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

const isoStamp = (ms: number) => new Date(ms).toISOString();

/**
 * An inbox entry as `urn:relay:inbox:0` writes it: the fields of
 * `GET /api/inbox`, with times as XEP-0082 timestamps.
 */
export function conversationElement(entry: InboxEntryView): XmlElement {
  return el(
    'conversation',
    NS.inbox,
    flagAttributes(entry),
    el(
      'last',
      NS.inbox,
      {
        id: entry.last_message.id,
        from: entry.last_message.from,
        stamp: isoStamp(entry.last_message.timestamp),
      },
      entry.last_message.body,
    ),
  );
}

/** An inbox change pushed to a session that asked for the inbox: what changed, no more. */
export function inboxPush(change: InboxChangeView, server: string, to: string): XmlElement {
  return el(
    'message',
    NS.client,
    { from: server, to, type: 'headline' },
    el(
      'update',
      NS.inbox,
      {},
      el(
        'conversation',
        NS.inbox,
        flagAttributes(change),
        change.last_message_id === undefined
          ? undefined
          : el('last', NS.inbox, { id: change.last_message_id }),
      ),
    ),
  );
}

function flagAttributes(
  entry: Pick<InboxChangeView, 'type' | 'id' | 'unread' | 'muted_until' | 'archived' | 'pinned'>,
): Record<string, string | undefined> {
  return {
    type: entry.type,
    id: entry.id,
    unread: String(entry.unread),
    'muted-until':
      entry.muted_until === undefined
        ? undefined
        : entry.muted_until === null
          ? ''
          : isoStamp(entry.muted_until),
    archived: entry.archived === undefined ? undefined : String(entry.archived),
    pinned: entry.pinned === undefined ? undefined : String(entry.pinned),
  };
}
