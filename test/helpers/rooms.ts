import type { RoomMessageView } from '#src/rooms/room-message-view.js';

import { ADMIN_AUTH, http } from './api.js';

export type RoomEntry = RoomMessageView;

export interface RoomDetails {
  id: string;
  domain: string;
  name: string;
  subject: string;
  settings: { configure: string; invite: string; remove: string };
  created_at: string;
  participants: { user: string; role: 'owner' | 'member'; joined_at: string }[];
}

/** Creates a room as `auth` (PUT with `id`, else POST) and returns its id. */
export async function createRoom(
  base: string,
  auth: string,
  body: Record<string, unknown> = { name: 'Room' },
  id?: string,
): Promise<string> {
  const result = await http<{ id: string }>(
    base,
    id === undefined ? 'POST' : 'PUT',
    id === undefined ? '/api/rooms' : `/api/rooms/${id}`,
    { auth, json: body },
  );
  if (result.status !== 201) {
    throw new Error(`create room: ${result.status} ${JSON.stringify(result.body)}`);
  }

  return result.body.id;
}

export async function addMember(
  base: string,
  auth: string,
  room: string,
  user: string,
  role?: 'owner' | 'member',
): Promise<void> {
  const result = await http(base, 'POST', `/api/rooms/${room}/users`, {
    auth,
    json: { user, ...(role === undefined ? {} : { role }) },
  });
  if (result.status !== 204) {
    throw new Error(`add ${user} to ${room}: ${result.status} ${JSON.stringify(result.body)}`);
  }
}

/** Adds many members through the admin API, a few at a time. */
export async function addMembersAsAdmin(
  base: string,
  room: string,
  users: readonly string[],
): Promise<void> {
  for (const user of users) {
    const result = await http(base, 'POST', `/api/admin/rooms/${room}/users`, {
      auth: ADMIN_AUTH,
      json: { user },
    });
    if (result.status !== 204) {
      throw new Error(`add ${user} to ${room}: ${result.status} ${JSON.stringify(result.body)}`);
    }
  }
}

export function sendToRoom(
  base: string,
  auth: string,
  room: string,
  body: string,
  clientId?: string,
) {
  return http<{ id: string }>(base, 'POST', `/api/rooms/${room}/messages`, {
    auth,
    json: { body, ...(clientId === undefined ? {} : { client_id: clientId }) },
  });
}

export async function roomArchive(
  base: string,
  auth: string,
  room: string,
  query = '',
): Promise<RoomEntry[]> {
  const result = await http<RoomEntry[]>(base, 'GET', `/api/rooms/${room}/messages${query}`, {
    auth,
  });
  if (result.status !== 200) {
    throw new Error(`archive of ${room}: ${result.status} ${JSON.stringify(result.body)}`);
  }

  return result.body;
}

export async function roomDetails(base: string, auth: string, room: string): Promise<RoomDetails> {
  const result = await http<RoomDetails>(base, 'GET', `/api/rooms/${room}`, { auth });
  if (result.status !== 200) {
    throw new Error(`details of ${room}: ${result.status} ${JSON.stringify(result.body)}`);
  }

  return result.body;
}
