import { Module } from '@nestjs/common';

import { AuthModule } from '#src/auth/auth.module.js';
import { BlockingController } from '#src/blocking/blocking.controller.js';
import { BlockingService } from '#src/blocking/blocking.service.js';

/** Blocklists: the REST routes, and the service messaging, presence, contacts and rooms consult. */
@Module({
  imports: [AuthModule],
  controllers: [BlockingController],
  providers: [BlockingService],
  exports: [BlockingService],
})
export class BlockingModule {}
