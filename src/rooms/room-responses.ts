import type {
  AdminRoomResponse,
  RoomDetailsResponse,
  RoomSummaryResponse,
} from '#src/rooms/dto/rooms.dto.js';
import type { RoomDetails, RoomListing } from '#src/rooms/rooms.service.js';
import type { RoomState } from '#src/rooms/room-store.js';

export function toSummary(room: RoomState): RoomSummaryResponse {
  return { id: room.id, name: room.name, subject: room.subject };
}

export function toDetails(room: RoomDetails): RoomDetailsResponse {
  return {
    ...toSummary(room),
    domain: room.domain,
    settings: { ...room.settings },
    created_at: room.createdAt.toISOString(),
    participants: room.members.map((member) => ({
      user: member.jid,
      role: member.role,
      joined_at: member.joinedAt.toISOString(),
    })),
  };
}

export function toAdminListing(room: RoomListing): AdminRoomResponse {
  return {
    ...toSummary(room),
    domain: room.domain,
    members: room.memberCount,
    created_at: room.createdAt.toISOString(),
  };
}
