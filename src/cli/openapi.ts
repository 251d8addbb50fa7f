import 'reflect-metadata';

import { writeFileSync } from 'node:fs';

import { NestFactory } from '@nestjs/core';

import { AppModule } from '#src/app.module.js';
import { buildOpenApiDocument, serializeOpenApiDocument } from '#src/common/openapi/openapi.js';
import { loadConfig } from '#src/config/load-config.js';

/** The committed document describes the default configuration: every module on. */
export async function generateOpenApi(): Promise<string> {
  const config = loadConfig({}, { LOG_LEVEL: 'silent', ADMIN_PASSWORD: 'unused' });
  // Preview mode builds the module graph without instantiating providers: no database is opened.
  const app = await NestFactory.create(AppModule.forRoot(config), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  try {
    return serializeOpenApiDocument(buildOpenApiDocument(app));
  } finally {
    await app.close();
  }
}

if (process.argv[1] === import.meta.filename) {
  const target = process.argv[2] ?? 'openapi/openapi.json';
  // Top-level await: this file is an ES module run directly.
  writeFileSync(target, await generateOpenApi());
  process.stdout.write(`wrote ${target}\n`);
}
