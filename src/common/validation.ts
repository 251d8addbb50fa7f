import { ValidationError, ValidationPipe } from '@nestjs/common';
import { registerDecorator, ValidationOptions } from 'class-validator';

import { AppError, InvalidField } from '#src/common/errors/problems.js';
import { isXmlSafe } from '#src/common/xml-text.js';

/** Validates and converts DTOs; unknown fields and wrong types are 400 problems naming the fields. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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
