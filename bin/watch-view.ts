import cliProgress from 'cli-progress';
import type { RunStatus } from '../core/runs/run-status.js';
import { runHeadline, stageDetail, StageRates } from './stage-progress.js';

export interface WatchViewOptions {
  /** Bars on a terminal; plain lines elsewhere (CI logs, pipes). @defaultValue stderr is a TTY */
  tty?: boolean;
  /** Least time between two blocks of plain lines. @defaultValue 5000 */
  plainEveryMs?: number;
  /** Where it writes. @defaultValue process.stderr */
  stream?: NodeJS.WritableStream;
}

/**
 * `sdf-farm watch`: a bar per stage with its rate, ETA, acceptance rate and spend, under a line
 * with the run's state and spend. Without a terminal, the same as plain lines every few seconds,
 * and always once more at the end. (`sdf-farm run` keeps its two-bar ProgressView.)
 */
export class WatchView {
  readonly #rates = new StageRates();
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  readonly #stream: NodeJS.WritableStream;
  #bars: cliProgress.MultiBar | undefined;
  #headline: cliProgress.SingleBar | undefined;
  readonly #stageBars = new Map<string, cliProgress.SingleBar>();
  #lastPlain = 0;

  constructor(options: WatchViewOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    this.#tty = options.tty ?? Boolean((this.#stream as NodeJS.WriteStream).isTTY);
    this.#plainEveryMs = options.plainEveryMs ?? 5000;
  }

  update(status: RunStatus, final = false): void {
    const rows = this.#rates.progress(status);
    if (this.#tty) {
      this.#bars ??= new cliProgress.MultiBar(
        { format: ' {label} [{bar}] {value}/{total} | {detail}', hideCursor: true, clearOnComplete: false, stream: this.#stream as NodeJS.WriteStream, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
      // The headline is a bar without a bar: cli-progress redraws all its lines together.
      this.#headline ??= this.#bars.create(1, 0, { label: '', detail: '' }, { format: ' {detail}' });
      this.#headline.update(0, { detail: runHeadline(status) });
      const width = Math.max(...rows.map((r) => r.stage.length), 0);
      for (const row of rows) {
        let bar = this.#stageBars.get(row.stage);
        if (!bar) {
          bar = this.#bars.create(1, 0, { label: row.stage.padEnd(width), detail: '' });
          this.#stageBars.set(row.stage, bar);
        }
        bar.setTotal(Math.max(1, row.total));
        bar.update(row.done, { detail: stageDetail(row) });
      }
      return;
    }
    if (!final && Date.now() - this.#lastPlain < this.#plainEveryMs) return;
    this.#lastPlain = Date.now();
    const lines = [runHeadline(status), ...rows.map((r) => `  ${r.stage} ${r.done}/${r.total} tasks | ${stageDetail(r)}`)];
    this.#stream.write(lines.join('\n') + '\n');
  }

  stop(): void {
    this.#bars?.stop();
  }
}
