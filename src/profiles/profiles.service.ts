import { Injectable } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';

import { UsersService, type UserRef } from '#src/accounts/users.service.js';
import { BlockingService } from '#src/blocking/blocking.service.js';
import { AppError } from '#src/common/errors/problems.js';
import { createValidationPipe } from '#src/common/validation.js';
import { ProfileDto } from '#src/profiles/dto/profile.dto.js';
import type { ProfileInput, ProfileView } from '#src/profiles/profile-view.js';
import { ProfileEntity } from '#src/profiles/profile.entity.js';

const validation = createValidationPipe();

/**
 * Profiles, one per user, read by anyone on the server the owner does not
 * block and written by the owner alone, whether through REST or as an
 * XMPP vCard.
 */
@Injectable()
export class ProfilesService {
  private readonly profiles: Repository<ProfileEntity>;

  constructor(
    dataSource: DataSource,
    private readonly users: UsersService,
    private readonly blocking: BlockingService,
  ) {
    this.profiles = dataSource.getRepository(ProfileEntity);
  }

  async own(user: UserRef): Promise<ProfileView> {
    return toView(user.jid, await this.profiles.findOneBy({ userId: user.id }));
  }

  /** Another user's profile; a user who blocks the viewer looks like no user at all. */
  async of(viewer: UserRef, jid: string): Promise<ProfileView> {
    const subject = jid === viewer.jid ? viewer : await this.users.findByJid(jid);
    if (subject === undefined || (await this.blocking.isBlocked(subject.id, viewer.jid))) {
      throw new AppError('user-not-found', { detail: `no user ${jid}` });
    }

    return this.own(subject);
  }

  /**
   * Replaces the whole profile. Input from outside REST (a vCard) goes
   * through the same validation as the REST body, so both doors take the
   * same profiles.
   */
  async replace(user: UserRef, input: ProfileInput): Promise<ProfileView> {
    const valid = (await validation.transform(input, {
      type: 'body',
      metatype: ProfileDto,
    })) as ProfileDto;
    const row = await this.profiles.save({
      userId: user.id,
      fullName: valid.full_name ?? null,
      nickname: valid.nickname ?? null,
      email: valid.email ?? null,
      url: valid.url ?? null,
      birthday: valid.birthday ?? null,
      note: valid.note ?? null,
      avatarType: valid.avatar?.type ?? null,
      avatar: valid.avatar == null ? null : Buffer.from(valid.avatar.data, 'base64'),
      updatedAt: new Date(),
    });

    return toView(user.jid, row);
  }

  async clear(user: UserRef): Promise<void> {
    await this.profiles.delete({ userId: user.id });
  }
}

function toView(jid: string, row: ProfileEntity | null): ProfileView {
  return {
    jid,
    full_name: row?.fullName ?? null,
    nickname: row?.nickname ?? null,
    email: row?.email ?? null,
    url: row?.url ?? null,
    birthday: row?.birthday ?? null,
    note: row?.note ?? null,
    avatar:
      row?.avatar == null || row.avatarType === null
        ? null
        : { type: row.avatarType, data: row.avatar.toString('base64') },
    updated_at: row?.updatedAt.getTime() ?? null,
  };
}
