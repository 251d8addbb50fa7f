import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { UserEntity } from '#src/accounts/user.entity.js';
import { RoomEntity } from '#src/rooms/room.entity.js';
import type { RoomRole } from '#src/rooms/room-rules.js';

/** A user's place in a room. Deleting the user or the room removes it. */
@Entity({ name: 'room_members' })
@Index('room_members_user_id_idx', ['userId'])
export class RoomMemberEntity {
  @PrimaryColumn({ name: 'room_id', type: 'text', primaryKeyConstraintName: 'room_members_pkey' })
  roomId: string;

  @ManyToOne(() => RoomEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'room_id', foreignKeyConstraintName: 'room_members_room_id_fkey' })
  room?: RoomEntity;

  /** The member's bare JID. */
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'room_members_pkey' })
  jid: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'room_members_user_id_fkey' })
  user?: UserEntity;

  @Column({ type: 'text' })
  role: RoomRole;

  /** The longest-standing member (earliest here) becomes owner when the last owner leaves. */
  @Column({ name: 'joined_at', type: 'timestamptz', default: () => 'now()' })
  joinedAt: Date;
}
