import { describe, expect, it } from 'vitest';

import { occupantPresence, roleOf, roomJid } from '#src/xmpp/muc/muc-render.js';
import { MemoryOccupantDirectory } from '#src/xmpp/muc/occupant-directory.js';

describe('the in-process occupant directory', () => {
  it('gives a nickname to one bare JID at a time, shared by its resources, free again once released', async () => {
    const directory = new MemoryOccupantDirectory();
    expect(await directory.claimNick('r', 'Al', 'alice@x')).toBe(true);
    expect(await directory.claimNick('r', 'Al', 'alice@x')).toBe(true);
    expect(await directory.claimNick('r', 'Al', 'bob@x')).toBe(false);
    // Only the holder gives it back.
    await directory.releaseNick('r', 'Al', 'bob@x');
    expect(await directory.claimNick('r', 'Al', 'bob@x')).toBe(false);
    await directory.releaseNick('r', 'Al', 'alice@x');
    expect(await directory.claimNick('r', 'Al', 'bob@x')).toBe(true);
    // Rooms are apart.
    expect(await directory.claimNick('other', 'Al', 'alice@x')).toBe(true);
  });

  it('lists the sessions in a room until they are removed', async () => {
    const directory = new MemoryOccupantDirectory();
    const entry = { jid: 'alice@x', fullJid: 'alice@x/a', nick: 'Al', node: 'n1' };
    await directory.put('r', { ...entry, sessionId: 's1' });
    await directory.put('r', { ...entry, sessionId: 's2', fullJid: 'alice@x/b', show: 'away' });
    expect((await directory.list('r')).map((item) => item.sessionId)).toEqual(['s1', 's2']);
    await directory.remove('r', 's1');
    expect(await directory.list('r')).toEqual([
      { ...entry, sessionId: 's2', fullJid: 'alice@x/b', show: 'away' },
    ]);
    await directory.remove('r', 's2');
    expect(await directory.list('r')).toEqual([]);
  });
});

describe('occupant presence (XEP-0045 section 7.2.3, 7.14, 9.7)', () => {
  const room = roomJid({ id: 'team', domain: 'example.org' });

  it('names the room on the muc subdomain and maps owners to moderators, members to participants', () => {
    expect(room).toBe('team@muc.example.org');
    expect([roleOf('owner'), roleOf('member'), roleOf('none')]).toEqual([
      'moderator',
      'participant',
      'none',
    ]);
  });

  it('renders an available occupant with its real JID, show and each status code once', () => {
    const xml = occupantPresence(room, 'bob@example.org/phone', {
      nick: 'Al',
      jid: 'alice@example.org',
      affiliation: 'owner',
      available: true,
      show: 'away',
      codes: [110, 100, 110],
    }).toXml();
    expect(xml).toContain('from="team@muc.example.org/Al"');
    expect(xml).not.toContain('type=');
    expect(xml).toContain('<show>away</show>');
    expect(xml).toContain('affiliation="owner" role="moderator" jid="alice@example.org"');
    expect(xml.match(/code="110"/g)).toHaveLength(1);
    expect(xml).toContain('code="100"');
  });

  it('renders a departure with role none, and a destruction with the destroy element', () => {
    const gone = occupantPresence(room, 'alice@example.org/a', {
      nick: 'Al',
      jid: 'alice@example.org',
      affiliation: 'none',
      available: false,
      destroyed: true,
    }).toXml();
    expect(gone).toContain('type="unavailable"');
    expect(gone).toContain('affiliation="none" role="none"');
    expect(gone).toContain('<destroy jid="team@muc.example.org"/>');
  });
});
