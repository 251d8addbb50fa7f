import { Injectable, OnModuleInit } from '@nestjs/common';

import type { ProfileInput, ProfileView } from '#src/profiles/profile-view.js';
import { ProfilesService } from '#src/profiles/profiles.service.js';
import { toStanzaError } from '#src/xmpp/handlers/app-errors.js';
import { XmppHandlerRegistry, type IqRequest } from '#src/xmpp/handlers/handler-registry.js';
import { StanzaError } from '#src/xmpp/stream/errors.js';
import { el, type XmlElement } from '#src/xmpp/xml/element.js';
import { NS } from '#src/xmpp/xml/namespaces.js';

/**
 * vCard-temp (XEP-0054) over the profiles REST uses: a vCard is the
 * profile's fields (FN, NICKNAME, EMAIL/USERID, URL, BDAY, DESC and a
 * PHOTO with TYPE and BINVAL); other vCard fields are not kept. Anyone may
 * read a user's vCard (one who is blocked sees no such user); only the
 * owner may set it, and a set replaces the whole vCard (section 3.2).
 */
@Injectable()
export class VCardHandler implements OnModuleInit {
  constructor(
    private readonly registry: XmppHandlerRegistry,
    private readonly profiles: ProfilesService,
  ) {}

  onModuleInit(): void {
    this.registry.addFeatures(['server', 'self', 'account'], NS.vcard);
    this.registry.registerIq({
      ns: NS.vcard,
      name: 'vCard',
      targets: ['server', 'self', 'account'],
      handle: (request) => (request.type === 'get' ? this.get(request) : this.set(request)),
    });
  }

  private async get({ session, target }: IqRequest): Promise<XmlElement> {
    if (target.kind === 'server') {
      // The server keeps no vCard of its own: an empty one (section 3.1).
      return el('vCard', NS.vcard);
    }
    try {
      const profile =
        target.kind === 'self'
          ? await this.profiles.own(session.user)
          : await this.profiles.of(session.user, target.jid);

      return vCardOf(profile);
    } catch (error: unknown) {
      throw toStanzaError(error);
    }
  }

  private async set({ session, target, payload }: IqRequest): Promise<undefined> {
    if (target.kind !== 'self') {
      // Section 3.2: a user updates their own vCard only.
      throw new StanzaError('forbidden', 'only your own vCard can be set');
    }
    try {
      await this.profiles.replace(session.user, profileOf(payload));
    } catch (error: unknown) {
      throw toStanzaError(error);
    }

    return undefined;
  }
}

/** The profile fields a vCard carries; empty fields are left out. */
export function profileOf(vcard: XmlElement): ProfileInput {
  const text = (name: string, parent: XmlElement = vcard) => {
    const value = parent.childText(name, NS.vcard)?.trim();

    return value === undefined || value === '' ? null : value;
  };
  const email = vcard.child('EMAIL', NS.vcard);
  const photo = vcard.child('PHOTO', NS.vcard);
  const binval = photo === undefined ? null : text('BINVAL', photo);

  return {
    full_name: text('FN'),
    nickname: text('NICKNAME'),
    email: email === undefined ? null : text('USERID', email),
    url: text('URL'),
    birthday: text('BDAY'),
    note: text('DESC'),
    avatar:
      photo === undefined || binval === null
        ? null
        : // BINVAL is often wrapped over several lines (RFC 2045 style); the profile keeps it whole.
          { type: text('TYPE', photo) ?? '', data: binval.replace(/\s+/g, '') },
  };
}

export function vCardOf(profile: ProfileView): XmlElement {
  const field = (name: string, value: string | null) =>
    value === null ? undefined : el(name, NS.vcard, {}, value);

  return el(
    'vCard',
    NS.vcard,
    {},
    field('FN', profile.full_name),
    field('NICKNAME', profile.nickname),
    profile.email === null
      ? undefined
      : el('EMAIL', NS.vcard, {}, el('INTERNET', NS.vcard), field('USERID', profile.email)),
    field('URL', profile.url),
    field('BDAY', profile.birthday),
    field('DESC', profile.note),
    profile.avatar === null
      ? undefined
      : el(
          'PHOTO',
          NS.vcard,
          {},
          field('TYPE', profile.avatar.type),
          field('BINVAL', profile.avatar.data),
        ),
  );
}
