import type { Request } from 'express';

import type { AuthenticatedUser } from '#src/auth/authenticated-user.js';
import { AppError } from '#src/common/errors/problems.js';
import type { SendMessageDto } from '#src/messaging/dto/send-message.dto.js';
import type { SendCommand } from '#src/messaging/messages.service.js';

/**
 * The send a client asks for with `POST /api/messages`, for the controller
 * and for the fast route alike: the body's `client_id`, else the
 * `Idempotency-Key` header, is the idempotency key.
 */
export function clientSendCommand(
  user: AuthenticatedUser,
  dto: SendMessageDto,
  request: Request,
): SendCommand {
  const clientId = dto.client_id ?? idempotencyKeyOf(request);

  return {
    sender: user,
    to: dto.to,
    body: dto.body,
    source: 'client',
    ...(clientId === undefined ? {} : { clientId }),
    ...(dto.reply_to === undefined ? {} : { replyTo: dto.reply_to }),
    ...(dto.thread === undefined ? {} : { thread: dto.thread }),
  };
}

/** Visible ASCII and inner spaces: header bytes outside it arrive as Latin-1 and would not round-trip. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]([\x20-\x7e]{0,126}[\x21-\x7e])?$/;

function idempotencyKeyOf(request: Request): string | undefined {
  // `headersDistinct` copies every header of the request into arrays: only when there is a key.
  if (request.headers['idempotency-key'] === undefined) {
    return undefined;
  }
  const values = request.headersDistinct['idempotency-key'];
  if (values === undefined) {
    return undefined;
  }
  // Repeated headers reach us joined by commas, so a comma cannot be part of a key.
  if (values.length !== 1 || !IDEMPOTENCY_KEY.test(values[0]!) || values[0]!.includes(',')) {
    throw new AppError('validation', {
      detail: 'give one Idempotency-Key of 1 to 128 visible ASCII characters, without commas',
      fields: [
        {
          name: 'header.idempotency-key',
          reason: 'one value, 1 to 128 visible ASCII characters, no comma',
        },
      ],
    });
  }

  return values[0];
}
