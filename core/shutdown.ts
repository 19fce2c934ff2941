import closeWithGrace from 'close-with-grace';
import type { Logger } from './logger.js';

/**
 * Makes a long-running process stop cleanly: the first SIGTERM/SIGINT (or an uncaught error)
 * closes the service and exits 0 (1 after an error); a second signal, or `graceMs` passing,
 * exits 1 at once. The one place a process decides to exit.
 *
 * Installed before the service finishes starting, so a signal that arrives during start-up (a
 * pod scaled down as it boots) still waits for the start and then closes what was opened.
 */
export function closeOnSignals(starting: Promise<{ close(): Promise<void> }>, logger: Logger, graceMs: number): void {
  closeWithGrace(
    {
      delay: graceMs,
      logger: { error: (err: unknown) => logger.error({ err }, 'shutdown failed') },
      onSecondSignal: (signal) => logger.warn({ signal }, 'second signal: exiting now'),
      onSecondError: (err) => logger.error({ err }, 'another error while closing: exiting now'),
      onTimeout: (delay) => logger.error({ graceMs: delay }, 'shutdown grace period passed: exiting'),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'uncaught error: closing');
      else logger.info({ signal, graceMs }, 'draining; send the signal again to force exit');
      // A start that failed has already been reported by the command; there is nothing to close.
      const service = await starting.catch(() => undefined);
      await service?.close();
    },
  );
}
