/**
 * Whether a string is one emoji reaction: pictographs, flags, keycaps and
 * their joiners and modifiers only, 1 to 64 bytes, with at least one
 * pictograph, regional indicator or keycap. Free text is not a reaction.
 */
export function isEmoji(value: string): boolean {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0 || bytes > 64) {
    return false;
  }

  return EMOJI_SEQUENCE.test(value) && PICTOGRAPH.test(value);
}

const EMOJI_SEQUENCE =
  /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Modifier}|\u200d|\ufe0f|\u20e3|[#*0-9]|[\u{e0020}-\u{e007f}])+$/u;
const PICTOGRAPH = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;
