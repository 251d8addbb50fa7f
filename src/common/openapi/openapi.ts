import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

import { EVENT_SCHEMAS } from '#src/events/dto/event-schemas.js';

/** The OpenAPI document of the running application; `openapi/openapi.json` is this, committed. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Relay messaging server')
    .setDescription(
      'Client REST API (users authenticate with a bearer token or HTTP Basic `bare-jid:password`) and admin REST API ' +
        '(HTTP Basic with the admin credentials). Every error is application/problem+json (RFC 9457).',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: 'Access token from POST /api/tokens' }, 'token')
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'bare-jid:password' }, 'user')
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'ADMIN_USERNAME:ADMIN_PASSWORD' }, 'admin')
    .build();

  return SwaggerModule.createDocument(app, config, {
    // Webhook payloads are not answers of any route; listed so integrators find them here.
    extraModels: EVENT_SCHEMAS,
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}` });
}

/** Stable text for the committed file: sorted keys, two-space indent, trailing newline. */
export function serializeOpenApiDocument(document: OpenAPIObject): string {
  return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }

  return value;
}
