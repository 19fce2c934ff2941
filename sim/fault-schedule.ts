import { Random } from './random.js';

export type TransportFault = '429' | '5xx' | 'timeout';

/**
 * Decides which requests carry a transport fault. Each fault kind is spread evenly: of every
 * 1/rate requests, one carries it, at a random place. Independent coin flips would leave a 1%
 * fault absent from a 150-request run one time in five; a test that relies on the fault being
 * exercised, or a benchmark comparing runs, needs the share it asked for.
 *
 * Rates are read on every call, so changing them on a running simulator takes effect at once.
 * When two kinds fall on the same request the later one waits for the next free request rather
 * than being dropped (at most one waits per kind).
 */
export class FaultSchedule {
  readonly #random: Random;
  readonly #credit: Record<TransportFault, number> = { '429': 0, '5xx': 0, timeout: 0 };
  readonly #threshold: Record<TransportFault, number>;
  readonly #waiting = new Set<TransportFault>();

  constructor(seed: number) {
    this.#random = new Random(seed ^ 0x5eed_fa17);
    this.#threshold = { '429': this.#random.next(), '5xx': this.#random.next(), timeout: this.#random.next() };
  }

  /** Call once per request, in arrival order; the fault this request carries, if any. */
  next(rates: Record<TransportFault, number>): TransportFault | undefined {
    for (const kind of ORDER) {
      const rate = rates[kind];
      if (!(rate > 0)) {
        this.#waiting.delete(kind);
        continue;
      }
      this.#credit[kind] += rate;
      if (this.#credit[kind] >= this.#threshold[kind]) {
        this.#credit[kind] -= 1;
        this.#threshold[kind] = this.#random.next();
        this.#waiting.add(kind);
      }
    }
    for (const kind of ORDER) {
      if (this.#waiting.delete(kind)) return kind;
    }
    return undefined;
  }
}

const ORDER: readonly TransportFault[] = ['429', '5xx', 'timeout'];
