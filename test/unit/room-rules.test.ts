import { describe, expect, it } from 'vitest';

import {
  DEFAULT_ROOM_SETTINGS,
  mayDo,
  nextOwner,
  parseRoomId,
  withSettings,
} from '#src/rooms/room-rules.js';

const open = { configure: 'members', invite: 'members', remove: 'members' } as const;

describe('room rules', () => {
  it('gives owners everything and members nothing but leaving by default', () => {
    const actions = [
      { kind: 'configure' },
      { kind: 'change-settings' },
      { kind: 'destroy' },
      { kind: 'invite', role: 'member' },
      { kind: 'invite', role: 'owner' },
      { kind: 'remove', target: 'member', self: false },
      { kind: 'remove', target: 'owner', self: false },
    ] as const;
    for (const action of actions) {
      expect([action, mayDo('owner', action, DEFAULT_ROOM_SETTINGS)]).toEqual([action, true]);
      expect([action, mayDo('member', action, DEFAULT_ROOM_SETTINGS)]).toEqual([action, false]);
    }
    expect(
      mayDo('member', { kind: 'remove', target: 'member', self: true }, DEFAULT_ROOM_SETTINGS),
    ).toBe(true);
  });

  it('opens name, invites and removals to members by setting, but never owners’ powers', () => {
    expect(mayDo('member', { kind: 'configure' }, open)).toBe(true);
    expect(mayDo('member', { kind: 'invite', role: 'member' }, open)).toBe(true);
    expect(mayDo('member', { kind: 'remove', target: 'member', self: false }, open)).toBe(true);
    expect(mayDo('member', { kind: 'invite', role: 'owner' }, open)).toBe(false);
    expect(mayDo('member', { kind: 'remove', target: 'owner', self: false }, open)).toBe(false);
    expect(mayDo('member', { kind: 'change-settings' }, open)).toBe(false);
    expect(mayDo('member', { kind: 'destroy' }, open)).toBe(false);
    // An owner may leave too, even the last one.
    expect(
      mayDo('owner', { kind: 'remove', target: 'owner', self: true }, DEFAULT_ROOM_SETTINGS),
    ).toBe(true);
  });

  it('hands ownership to the longest-standing member only when no owner is left', () => {
    const at = (ms: number) => new Date(1_764_860_000_000 + ms);

    expect(
      nextOwner([
        { jid: 'c@x', role: 'member', joinedAt: at(30) },
        { jid: 'b@x', role: 'member', joinedAt: at(10) },
        { jid: 'a@x', role: 'member', joinedAt: at(20) },
      ]),
    ).toBe('b@x');
    expect(
      nextOwner([
        { jid: 'z@x', role: 'member', joinedAt: at(10) },
        { jid: 'y@x', role: 'member', joinedAt: at(10) },
      ]),
    ).toBe('y@x');
    expect(
      nextOwner([
        { jid: 'b@x', role: 'member', joinedAt: at(10) },
        { jid: 'a@x', role: 'owner', joinedAt: at(20) },
      ]),
    ).toBeUndefined();
    expect(nextOwner([])).toBeUndefined();
  });

  it('takes room ids case-insensitively and refuses what cannot be one', () => {
    expect(parseRoomId('Team-1')).toBe('team-1');
    expect(parseRoomId('019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b')).toBe(
      '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b',
    );
    for (const bad of ['', '-team', 'team.', 'a b', 'a/b', 'a@b', 'x'.repeat(65), 'é']) {
      expect(() => parseRoomId(bad)).toThrow(/room id/);
    }
  });

  it('applies only the settings a change names', () => {
    expect(withSettings(DEFAULT_ROOM_SETTINGS, { invite: 'members', remove: undefined })).toEqual({
      configure: 'owners',
      invite: 'members',
      remove: 'owners',
    });
  });
});
