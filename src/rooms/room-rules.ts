import { AppError } from '#src/common/errors/problems.js';

/**
 * Who may do what in a room. Pure functions, so the same rules hold for
 * REST now and for the XMPP gateway later, and can be tested on their own.
 */
export const ROOM_ROLES = ['owner', 'member'] as const;
export type RoomRole = (typeof ROOM_ROLES)[number];

/** The least role a permission needs: `owners` (the default) or any of the `members`. */
export const ROOM_PERMISSIONS = ['owners', 'members'] as const;
export type RoomPermission = (typeof ROOM_PERMISSIONS)[number];

export interface RoomSettings {
  /** Who may change the name and subject. */
  readonly configure: RoomPermission;
  /** Who may add members (adding an owner always takes an owner). */
  readonly invite: RoomPermission;
  /** Who may remove someone else (removing an owner always takes an owner). */
  readonly remove: RoomPermission;
}

export const DEFAULT_ROOM_SETTINGS: RoomSettings = {
  configure: 'owners',
  invite: 'owners',
  remove: 'owners',
};

/** Settings with a change applied; a field the change leaves out (or undefined) keeps its value. */
export function withSettings(base: RoomSettings, change: Partial<RoomSettings> = {}): RoomSettings {
  return {
    configure: change.configure ?? base.configure,
    invite: change.invite ?? base.invite,
    remove: change.remove ?? base.remove,
  };
}

export type RoomAction =
  | { readonly kind: 'configure' }
  | { readonly kind: 'change-settings' }
  | { readonly kind: 'invite'; readonly role: RoomRole }
  | { readonly kind: 'remove'; readonly target: RoomRole; readonly self: boolean }
  | { readonly kind: 'destroy' };

function allows(permission: RoomPermission, actor: RoomRole): boolean {
  return actor === 'owner' || permission === 'members';
}

export function mayDo(actor: RoomRole, action: RoomAction, settings: RoomSettings): boolean {
  switch (action.kind) {
    case 'configure':
      return allows(settings.configure, actor);
    case 'change-settings':
    case 'destroy':
      return actor === 'owner';
    case 'invite':
      return action.role === 'owner' ? actor === 'owner' : allows(settings.invite, actor);
    case 'remove':
      // A member may always leave.
      if (action.self) {
        return true;
      }

      return action.target === 'owner' ? actor === 'owner' : allows(settings.remove, actor);
  }
}

export interface MemberStanding {
  readonly jid: string;
  readonly role: RoomRole;
  readonly joinedAt: Date;
}

/**
 * Who becomes owner when the last owner has gone: the longest-standing
 * remaining member (ties by JID, so every node picks the same one), or
 * nobody when an owner remains or nobody does.
 */
export function nextOwner(remaining: readonly MemberStanding[]): string | undefined {
  if (remaining.length === 0 || remaining.some((member) => member.role === 'owner')) {
    return undefined;
  }
  const [first] = [...remaining].sort(
    (a, b) => a.joinedAt.getTime() - b.joinedAt.getTime() || (a.jid < b.jid ? -1 : 1),
  );

  return first?.jid;
}

/** Room ids: 1 to 64 of `a-z 0-9 . _ -`, starting and ending with a letter or digit; case-insensitive. */
const ROOM_ID = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

export function parseRoomId(value: string, field = 'id'): string {
  const id = value.toLowerCase();
  if (!ROOM_ID.test(id)) {
    throw new AppError('validation', {
      detail: `${field}: a room id is 1 to 64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
      fields: [{ name: field, reason: 'not a valid room id' }],
    });
  }

  return id;
}
