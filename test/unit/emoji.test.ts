import { describe, expect, it } from 'vitest';

import { isEmoji } from '#src/common/emoji.js';

describe('isEmoji', () => {
  it('accepts single emoji, with modifiers, joiners, flags and keycaps', () => {
    for (const emoji of ['👍', '❤️', '👍🏽', '👩‍👩‍👧', '🇫🇷', '1️⃣', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '🎉']) {
      expect(isEmoji(emoji), emoji).toBe(true);
    }
  });

  it('refuses text, digits alone, whitespace, controls and overlong sequences', () => {
    for (const text of [
      '',
      'lol',
      '1',
      '#',
      ' 👍',
      '👍 ',
      '👍\n',
      'a👍',
      '\u200d',
      '👍'.repeat(17),
    ]) {
      expect(isEmoji(text), JSON.stringify(text)).toBe(false);
    }
  });
});
