import { AppError } from '#src/common/errors/problems.js';
import type { Jid } from '#src/common/jid.js';
import type { RoomDetails, RoomsService } from '#src/rooms/rooms.service.js';
import type { XmppSession } from '#src/xmpp/session/xmpp-session.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';

/**
 * A rooms service problem as XEP-0045 answers it. A room that does not
 * exist and one the user is not in give `whenNotMember` alike, as REST
 * answers 404 alike: registration-required for a join (section 7.2.7),
 * forbidden for what only members may read or do.
 */
export function mucStanzaError(
  error: unknown,
  whenNotMember: NotMemberCondition = 'forbidden',
): unknown {
  if (!(error instanceof AppError)) {
    return error;
  }
  switch (error.code) {
    case 'room-not-found':
      return new StanzaError(whenNotMember);
    case 'room-forbidden':
      return new StanzaError('forbidden', error.message);
    case 'room-member-not-found':
    case 'user-not-found':
      return new StanzaError('item-not-found', error.message);
    case 'room-member-exists':
      return new StanzaError('conflict', error.message);
    case 'room-full':
    case 'room-limit-reached':
      return new StanzaError('not-allowed', error.message);
    default:
      return toStanzaError(error);
  }
}

/** Where a stanza to the multi-user chat service goes: the service itself or one room. */
export interface MucAddress {
  readonly jid: Jid;
  /** The served domain the service belongs to. */
  readonly domain: string;
  /** The room id, absent for the service's own address. */
  readonly room?: string;
}

export type NotMemberCondition = 'registration-required' | 'forbidden' | 'item-not-found';

/** The room for one of its members, or the condition a non-member gets. */
export async function memberRoom(
  rooms: RoomsService,
  session: XmppSession,
  address: MucAddress,
  whenNotMember: NotMemberCondition,
): Promise<RoomDetails> {
  let room: RoomDetails;
  try {
    room = await rooms.details(address.room!, session.user);
  } catch (error: unknown) {
    throw mucStanzaError(error, whenNotMember);
  }
  if (room.domain !== address.domain) {
    throw new StanzaError(whenNotMember);
  }

  return room;
}
