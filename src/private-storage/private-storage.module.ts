import { Module } from '@nestjs/common';

import { PrivateStorageService } from '#src/private-storage/private-storage.service.js';

/** Private XML storage (XEP-0049); only the XMPP gateway has a door to it. */
@Module({
  providers: [PrivateStorageService],
  exports: [PrivateStorageService],
})
export class PrivateStorageModule {}
