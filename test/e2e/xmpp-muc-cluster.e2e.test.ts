import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { http, registerUser, type TestUser } from '#test/helpers/api.js';
import { addMember, createRoom } from '#test/helpers/rooms.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, uniqueDomain, type TestServer } from '#test/helpers/test-server.js';
import { connectXmpp, type TestXmppClient } from '#test/helpers/xmpp.js';

type Element = TestXmppClient['stanzas'][number];

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';

function codes(stanza: Element): number[] {
  return (stanza.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((status: Element) =>
    Number(status.attrs.code),
  );
}

describe.skipIf(!servicesUp())('XMPP room occupants on two nodes', () => {
  const domain = uniqueDomain();
  const shared = { REDIS_KEY_PREFIX: `test:muc-cluster:${domain}:` };
  let nodeA: TestServer;
  let nodeB: TestServer;
  const users = new Map<string, TestUser>();
  const clients: TestXmppClient[] = [];
  let roomJid: string;
  let room: string;

  beforeAll(async () => {
    nodeA = await startTestServer({ ...shared, NODE_ID: 'muc-a' }, { domain });
    nodeB = await startTestServer({ ...shared, NODE_ID: 'muc-b' }, { domain });
    for (const name of ['alice', 'bob', 'carol']) {
      users.set(name, await registerUser(nodeA.url, domain, name));
    }
    room = await createRoom(nodeA.url, users.get('alice')!.basic, { name: 'Spread' });
    roomJid = `${room}@muc.${domain}`;
    await addMember(nodeA.url, users.get('alice')!.basic, room, users.get('bob')!.jid);
    await addMember(nodeA.url, users.get('alice')!.basic, room, users.get('carol')!.jid);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await nodeA?.stop();
    await nodeB?.stop();
  });

  async function occupant(name: string, node: TestServer, nick: string) {
    const client = await connectXmpp(node, users.get(name)!);
    clients.push(client);
    await client.xmpp.send(xml('presence'));
    await client.xmpp.send(xml('presence', { to: `${roomJid}/${nick}` }, xml('x', { xmlns: MUC })));
    await client.waitFor(
      (stanza) =>
        stanza.is('presence') &&
        stanza.attrs.from === `${roomJid}/${nick}` &&
        codes(stanza).includes(110),
    );

    return client;
  }

  it('shows occupants of either node to each other, keeps nicknames unique across nodes, and carries messages and departures between them', async () => {
    const alice = await occupant('alice', nodeA, 'Alice');
    const bob = await occupant('bob', nodeB, 'Bob');
    // Bob, on node B, was told of Alice on node A before his own presence; Alice hears of Bob.
    expect(bob.stanzas.some((stanza) => stanza.attrs.from === `${roomJid}/Alice`)).toBe(true);
    await alice.waitFor(
      (stanza) => stanza.is('presence') && stanza.attrs.from === `${roomJid}/Bob`,
    );

    // A nickname held on node A is taken on node B as well.
    const carol = await connectXmpp(nodeB, users.get('carol')!);
    clients.push(carol);
    await carol.xmpp.send(xml('presence', { to: `${roomJid}/Alice` }, xml('x', { xmlns: MUC })));
    const conflict = await carol.waitFor(
      (stanza) => stanza.attrs.from === `${roomJid}/Alice` && stanza.attrs.type === 'error',
    );
    expect(conflict.getChild('error')!.getChild('conflict')).toBeDefined();

    await bob.xmpp.send(
      xml('message', { to: roomJid, type: 'groupchat' }, xml('body', {}, 'from B')),
    );
    const atAlice = await alice.waitFor(
      (stanza) => stanza.is('message') && stanza.getChildText('body') === 'from B',
    );
    expect(atAlice.attrs.from).toBe(`${roomJid}/Bob`);

    // Removed over REST on node A, Bob's occupant on node B is expelled and Alice told.
    const removed = await http(
      nodeA.url,
      'DELETE',
      `/api/rooms/${room}/users/${users.get('bob')!.jid}`,
      {
        auth: users.get('alice')!.basic,
      },
    );
    expect(removed.status).toBe(204);
    const expelled = await bob.waitFor(
      (stanza) => stanza.attrs.from === `${roomJid}/Bob` && stanza.attrs.type === 'unavailable',
    );
    expect(codes(expelled).sort()).toEqual([110, 321]);
    await alice.waitFor(
      (stanza) => stanza.attrs.from === `${roomJid}/Bob` && stanza.attrs.type === 'unavailable',
    );

    // The nickname is free again, on either node.
    await carol.xmpp.send(xml('presence', { to: `${roomJid}/Bob` }, xml('x', { xmlns: MUC })));
    await carol.waitFor(
      (stanza) =>
        stanza.is('presence') &&
        stanza.attrs.from === `${roomJid}/Bob` &&
        codes(stanza).includes(110),
    );
  });
});
