import { startServer } from '#src/bootstrap.js';
import { ConfigError, loadConfig } from '#src/config/load-config.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  const stop = (signal: string) => {
    process.stdout.write(
      `${JSON.stringify({ level: 30, time: Date.now(), msg: `${signal}: shutting down` })}\n`,
    );
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    error instanceof ConfigError
      ? `${error.message}\n`
      : `failed to start: ${(error as Error).stack ?? String(error)}\n`,
  );
  process.exit(1);
});
