import type { EventEnvelope, EventType } from '#src/events/event-catalogue.js';

export interface EnvelopeFields {
  readonly id: string;
  readonly type: EventType;
  readonly version: number;
  readonly domain: string;
  readonly timestamp: Date;
  readonly conversation: string | null;
  readonly data: EventEnvelope['data'];
}

/**
 * The JSON body of every delivery of an event, in two parts around its
 * conversation sequence number, which the database gives out in the same
 * statement that stores the deliveries: the body is `head`, the number,
 * `tail`. Without a conversation, `head` is the whole body and `tail` empty.
 * Keys come in the order of `EventEnvelope`.
 */
export function envelopeParts(event: EnvelopeFields): { head: string; tail: string } {
  const start =
    `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)}` +
    `,"timestamp":${JSON.stringify(event.timestamp.toISOString())}` +
    `,"version":${event.version},"domain":${JSON.stringify(event.domain)}`;
  const data = `"data":${JSON.stringify(event.data)}}`;
  if (event.conversation === null) {
    return { head: `${start},${data}`, tail: '' };
  }

  return {
    head: `${start},"conversation":{"id":${JSON.stringify(event.conversation)},"sequence":`,
    tail: `},${data}`,
  };
}

/** The whole body, for an event whose sequence number (if any) is known. */
export function envelopeJson(event: EnvelopeFields, sequence: string | null): string {
  const { head, tail } = envelopeParts(
    sequence === null ? { ...event, conversation: null } : event,
  );

  return `${head}${sequence ?? ''}${tail}`;
}
