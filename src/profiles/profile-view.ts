/** A profile as `GET /api/profile` shows it; every field null when never set. */
export interface ProfileView {
  readonly jid: string;
  readonly full_name: string | null;
  readonly nickname: string | null;
  readonly email: string | null;
  readonly url: string | null;
  /** `YYYY-MM-DD`. */
  readonly birthday: string | null;
  readonly note: string | null;
  /** The image as base64, with its media type. */
  readonly avatar: { readonly type: string; readonly data: string } | null;
  /** Epoch milliseconds. */
  readonly updated_at: number | null;
}

/** What a client sets: a whole profile, absent fields cleared. */
export type ProfileInput = Partial<Omit<ProfileView, 'jid' | 'updated_at'>>;
