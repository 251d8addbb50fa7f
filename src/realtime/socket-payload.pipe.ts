import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';

import { shapeProblem } from '#src/common/json-body.middleware.js';
import { AppError } from '#src/common/errors/problems.js';
import { createValidationPipe } from '#src/common/validation.js';

/**
 * A socket event's payload gets the checks an HTTP body gets: the shape
 * limits of the JSON parser, then the same DTO validation, so both doors
 * accept and refuse exactly the same messages.
 */
@Injectable()
export class SocketPayloadPipe implements PipeTransform {
  private readonly validation = createValidationPipe();

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new AppError('validation', { detail: 'the payload must be an object' });
    }
    const problem = shapeProblem(value);
    if (problem !== undefined) {
      throw new AppError('invalid-json', { detail: problem });
    }

    return this.validation.transform(value, { ...metadata, type: 'body' });
  }
}
