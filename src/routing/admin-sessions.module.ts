import { Module } from '@nestjs/common';

import { AuthModule } from '#src/auth/auth.module.js';
import { AdminSessionsController } from '#src/routing/admin-sessions.controller.js';

@Module({ imports: [AuthModule], controllers: [AdminSessionsController] })
export class AdminSessionsModule {}
