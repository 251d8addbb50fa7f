import { Injectable, OnModuleInit } from '@nestjs/common';

import { AppError } from '#src/common/errors/problems.js';
import { isMessageId } from '#src/common/ids.js';
import { ArchiveService } from '#src/messaging/archive.service.js';
import type { MarkerType } from '#src/messaging/dto/send-message.dto.js';
import { MarkersService } from '#src/messaging/markers.service.js';
import { MessageOperationsService } from '#src/messaging/message-operations.service.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry } from '#src/xmpp/handlers/handler-registry.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import type { XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

const MARKERS: readonly string[] = ['received', 'displayed', 'acknowledged'] satisfies MarkerType[];

/** The longest client id the archive keeps (as for origin-ids of new messages). */
const MAX_CLIENT_ID = 128;

/**
 * What one-to-one message stanzas carry besides a body, mapped onto the
 * operations REST offers: corrections (XEP-0308) and retractions
 * (XEP-0424) are the author's edit and retract, chat markers (XEP-0333)
 * and delivery receipts (XEP-0184) the stored markers, and the carbons
 * hints (XEP-0280 section 7, XEP-0334) keep a message from the sender's
 * other sessions. ImHandlers asks it before sending a message.
 */
@Injectable()
export class MessageExtensions implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly archive: ArchiveService,
    private readonly operations: MessageOperationsService,
    private readonly markers: MarkersService,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(
      ['server'],
      NS.chatMarkers,
      NS.receipts,
      NS.correction,
      NS.retraction,
    );
  }

  /**
   * XEP-0280 section 11: carbons come from the server alone. A client
   * sending one (to anyone, its own account included) is refused, so no
   * forged copy reaches anybody.
   */
  refuseCarbons(stanza: XmlElement): void {
    const forged = stanza
      .elements()
      .some((child) => child.ns === NS.carbons && (child.is('sent') || child.is('received')));
    if (forged) {
      throw new StanzaError('not-acceptable', 'carbons come from the server');
    }
  }

  /** The private hint of XEP-0280 section 7 or XEP-0334's no-copy. */
  noCopies(stanza: XmlElement): boolean {
    return (
      stanza.child('private', NS.carbons) !== undefined ||
      stanza.child('no-copy', NS.hints) !== undefined
    );
  }

  /**
   * A correction or retraction of one of the user's own messages to
   * `peer`: done, and true; false for any other stanza. Whatever is
   * refused stores nothing.
   */
  operation(session: XmppSession, stanza: XmlElement, peer: string): false | Promise<boolean> {
    const replace = stanza.child('replace', NS.correction);
    const retract =
      stanza.child('retract', NS.retraction) ??
      (stanza.child('apply-to', NS.fasten)?.child('retract', NS.retractionLegacy) === undefined
        ? undefined
        : stanza.child('apply-to', NS.fasten));
    if (replace === undefined && retract === undefined) {
      // Nearly every message: answered without a promise.
      return false;
    }

    return this.apply(session, stanza, peer, replace, retract);
  }

  private async apply(
    session: XmppSession,
    stanza: XmlElement,
    peer: string,
    replace: XmlElement | undefined,
    retract: XmlElement | undefined,
  ): Promise<boolean> {
    try {
      if (retract !== undefined) {
        const id = await this.ownMessage(session, retract.attr('id'), peer);
        await this.operations.retract(session.user, id, session.id);
      } else {
        const body = stanza.childText('body', NS.client);
        if (body === undefined) {
          throw new StanzaError('bad-request', 'a correction carries the new body');
        }
        const id = await this.ownMessage(session, replace!.attr('id'), peer);
        await this.operations.edit(session.user, id, body, session.id);
      }
    } catch (error: unknown) {
      throw toStanzaError(error);
    }

    return true;
  }

  /** Chat markers and receipts in a bodiless message, stored as the REST markers. */
  async mark(session: XmppSession, stanza: XmlElement): Promise<void> {
    const marks: [string | undefined, MarkerType][] = [];
    for (const child of stanza.elements()) {
      if (child.ns === NS.chatMarkers && MARKERS.includes(child.name)) {
        marks.push([child.attr('id'), child.name as MarkerType]);
      } else if (child.is('received', NS.receipts)) {
        marks.push([child.attr('id'), 'received']);
      }
    }
    for (const [id, type] of marks) {
      // Messages are known to their readers by the archive id (the id of every stanza delivered).
      if (id === undefined || !isMessageId(id)) {
        continue;
      }
      try {
        await this.markers.mark(session.user, id, type, undefined, session.id);
      } catch (error: unknown) {
        // A marker of a message the archive no longer has (or never had) marks nothing.
        if (!(error instanceof AppError && error.code === 'message-not-found')) {
          throw toStanzaError(error);
        }
      }
    }
  }

  /**
   * The archive id of the user's message `ref` to `peer`: `ref` is the
   * server's id (the stanza-id every copy carries) or the id the client
   * sent it with (its origin-id). Someone else's message is forbidden.
   */
  private async ownMessage(
    session: XmppSession,
    ref: string | undefined,
    peer: string,
  ): Promise<string> {
    if (ref === undefined || ref === '') {
      throw new StanzaError('bad-request', 'the message to change is named by its id');
    }
    const row =
      (isMessageId(ref) ? await this.archive.find(session.user.id, ref) : undefined) ??
      (await this.archive.findSentByClientId(session.user.id, ref.slice(0, MAX_CLIENT_ID)));
    if (row === undefined) {
      throw new StanzaError('item-not-found', `no message ${ref} in your archive`);
    }
    if (!row.outgoing) {
      throw new StanzaError('forbidden', `message ${ref} was sent by ${row.peer}`);
    }
    if (row.peer !== peer) {
      throw new StanzaError(
        'bad-request',
        `message ${ref} is not of the conversation with ${peer}`,
      );
    }

    return row.id;
  }
}
