import type { Logger } from './logger.js';

export type Releaser = () => Promise<unknown> | unknown;

/**
 * Cleanups pushed as resources are acquired, run in reverse order once; each step is guarded so
 * one failing step does not stop the rest.
 */
export class Releasers {
  readonly #steps: Releaser[] = [];
  #done: Promise<void> | undefined;

  constructor(readonly logger: Logger) {}

  push(step: Releaser): void {
    this.#steps.push(step);
  }

  release(): Promise<void> {
    this.#done ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step();
        } catch (err) {
          this.logger.error({ err }, 'shutdown step failed');
        }
      }
    })();
    return this.#done;
  }
}
