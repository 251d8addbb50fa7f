import 'reflect-metadata';

import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { describe, expect, it } from 'vitest';

import { createValidationPipe } from '#src/common/validation.js';
import { acceptSendMessage, SendMessageDto } from '#src/messaging/dto/send-message.dto.js';

/** class-validator's own verdict on the DTO, with the options the pipe uses. */
async function reference(value: Record<string, unknown>): Promise<SendMessageDto | undefined> {
  const dto = plainToInstance(SendMessageDto, value);
  const errors = await validate(dto, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });

  return errors.length === 0 ? dto : undefined;
}

const V7 = '019aeb6c-8a4f-7c01-9a3b-3c6d2e1f0a9b';

const CASES: [string, Record<string, unknown>][] = [
  ['a plain send', { to: 'bob@localhost', body: 'hi' }],
  ['every optional field', { to: 'b@x', body: 'hi', client_id: 'c-1', reply_to: V7, thread: 't' }],
  ['an upper-case reply id', { to: 'b@x', body: 'hi', reply_to: V7.toUpperCase() }],
  [
    'a UUIDv4 reply id',
    { to: 'b@x', body: 'hi', reply_to: '3b241101-e2bb-4255-8caf-4136c566a962' },
  ],
  ['a recipient of 3071 characters', { to: 'a'.repeat(3071), body: 'hi' }],
  ['a recipient of 3072 characters', { to: 'a'.repeat(3072), body: 'hi' }],
  ['a recipient of 3072 units in astral pairs', { to: '😀'.repeat(1536), body: 'hi' }],
  ['an empty recipient', { to: '', body: 'hi' }],
  ['a numeric recipient', { to: 42, body: 'hi' }],
  ['no recipient', { body: 'hi' }],
  ['an empty body', { to: 'b@x', body: '' }],
  ['a body with NUL', { to: 'b@x', body: 'a\u0000b' }],
  ['a body with a lone surrogate', { to: 'b@x', body: 'a\ud800b' }],
  ['a body with tabs, newlines and emoji', { to: 'b@x', body: 'a\tb\r\n😀' }],
  ['a body that is an object', { to: 'b@x', body: { text: 'hi' } }],
  ['a client id of 128', { to: 'b@x', body: 'hi', client_id: 'k'.repeat(128) }],
  ['a client id of 129', { to: 'b@x', body: 'hi', client_id: 'k'.repeat(129) }],
  ['an empty client id', { to: 'b@x', body: 'hi', client_id: '' }],
  ['a null client id', { to: 'b@x', body: 'hi', client_id: null }],
  ['a client id with a control character', { to: 'b@x', body: 'hi', client_id: 'a\u0007' }],
  ['an empty thread', { to: 'b@x', body: 'hi', thread: '' }],
  ['a thread of 129', { to: 'b@x', body: 'hi', thread: 't'.repeat(129) }],
  ['a null thread', { to: 'b@x', body: 'hi', thread: null }],
  ['an unknown field', { to: 'b@x', body: 'hi', from: 'eve@x' }],
];

describe('the hand check of a send', () => {
  it.each(CASES)('agrees with class-validator on %s', async (_name, value) => {
    const expected = await reference(value);
    const fast = acceptSendMessage(value);
    if (fast !== undefined) {
      // What it accepts, class-validator accepts, and to the same DTO.
      expect(expected).toBeDefined();
      expect(fast).toBeInstanceOf(SendMessageDto);
      expect({ ...fast }).toEqual({ ...expected });
    }
    const pipe = createValidationPipe();
    const refused = Symbol('refused');
    const dto: unknown = await pipe
      .transform(value, { type: 'body', metatype: SendMessageDto })
      .catch(() => refused);
    expect(dto !== refused).toBe(expected !== undefined);
    if (dto !== refused) {
      expect(dto).toBeInstanceOf(SendMessageDto);
      expect({ ...(dto as object) }).toEqual({ ...expected });
    }
  });

  it('takes the everyday sends itself and leaves the doubtful ones to class-validator', () => {
    expect(acceptSendMessage({ to: 'bob@localhost', body: 'hi' })).toBeInstanceOf(SendMessageDto);
    expect(
      acceptSendMessage({ to: 'b@x', body: 'hi', client_id: 'c', reply_to: V7 }),
    ).toBeDefined();
    expect(acceptSendMessage({ to: 'b@x', body: 'hi', client_id: null })).toBeUndefined();
    expect(acceptSendMessage({ to: 'b@x', body: 'hi', extra: 1 })).toBeUndefined();
    expect(acceptSendMessage(Object.create({ to: 'b@x', body: 'hi' }) as never)).toBeUndefined();
  });

  it('names the field at fault when class-validator refuses', async () => {
    const error = await createValidationPipe()
      .transform(
        { to: 'b@x', body: 'hi', from: 'eve@x' },
        { type: 'body', metatype: SendMessageDto },
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'validation',
      options: { fields: [{ name: 'from', reason: 'property from should not exist' }] },
    });
  });
});
