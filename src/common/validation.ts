import { type ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { registerDecorator, ValidationOptions } from 'class-validator';

import { AppError, InvalidField } from '#src/common/errors/problems.js';
import { isXmlSafe } from '#src/common/xml-text.js';

/**
 * A hand-written check for a hot DTO that only ever says yes: it returns the
 * DTO for a value it is sure the class rules accept, and undefined for
 * anything else, which then goes through class-validator for the verdict and
 * the problem's wording. Both paths must agree on every value it accepts.
 */
export type FastAccept<T> = (value: Readonly<Record<string, unknown>>) => T | undefined;

const fastAccepts = new Map<abstract new () => unknown, FastAccept<unknown>>();

/** Registers the fast check of exactly `dto` (subclasses keep the class rules only). */
export function registerFastAccept<T>(dto: abstract new () => T, accept: FastAccept<T>): void {
  fastAccepts.set(dto, accept);
}

/** A JSON object as `JSON.parse` or socket.io builds one, with only the keys in `allowed`. */
export function isPlainRecord(
  value: unknown,
  allowed: ReadonlySet<string>,
): value is Readonly<Record<string, unknown>> {
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) {
    return false;
  }
  for (const key in value) {
    if (!allowed.has(key)) {
      return false;
    }
  }

  return true;
}

class FastValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const accept =
      metadata.type === 'body' ? fastAccepts.get(metadata.metatype as never) : undefined;
    const accepted =
      accept === undefined || typeof value !== 'object' || value === null
        ? undefined
        : accept(value as Record<string, unknown>);

    return accepted === undefined ? super.transform(value, metadata) : Promise.resolve(accepted);
  }
}

/** Validates and converts DTOs; unknown fields and wrong types are 400 problems naming the fields. */
export function createValidationPipe(): ValidationPipe {
  return new FastValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const fields = flatten(errors);

      return new AppError('validation', {
        detail: fields.map((field) => `${field.name}: ${field.reason}`).join('; '),
        fields,
      });
    },
  });
}

function flatten(errors: readonly ValidationError[], prefix = ''): InvalidField[] {
  return errors.flatMap((error) => {
    const name = prefix === '' ? error.property : `${prefix}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((reason) => ({ name, reason }));

    return [...own, ...flatten(error.children ?? [], name)];
  });
}

/** Text an XMPP client could receive: no control characters outside tab, newline and return. */
export function IsXmlText(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isXmlText',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: '$property contains characters XML 1.0 cannot carry', ...options },
      validator: { validate: (value: unknown) => typeof value !== 'string' || isXmlSafe(value) },
    });
  };
}
