import type { Logger } from './logger.js';

/**
 * First SIGINT/SIGTERM drains (`close`, then exit 0); a second one, or the deadline passing,
 * forces exit 1. The one place a process decides to exit.
 */
export function exitOnSignals(close: () => Promise<void>, logger: Logger, deadlineMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, deadlineMs }, 'draining; send the signal again to force exit');
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown deadline passed: exiting');
      process.exit(1);
    }, deadlineMs).unref();
    close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
