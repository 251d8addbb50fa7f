import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';

import { toAppError } from '#src/common/errors/problem.filter.js';
import { toProblemDocument } from '#src/common/errors/problems.js';

/** A failed socket.io event answers its ack with `{error: problem}`, or emits `error` when there is no ack. */
@Catch()
export class SocketProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Realtime');

  catch(exception: unknown, host: ArgumentsHost): void {
    const error = toAppError(exception);
    if (error.status >= 500) {
      this.logger.error({ err: exception }, 'socket event failed');
    }
    const problem = toProblemDocument(error);
    const args = host.getArgs();
    const ack = args.find((arg) => typeof arg === 'function') as
      ((response: unknown) => void) | undefined;
    if (ack !== undefined) {
      ack({ error: problem });
    } else {
      host
        .switchToWs()
        .getClient<{ emit(event: string, data: unknown): void }>()
        .emit('error', problem);
    }
  }
}
