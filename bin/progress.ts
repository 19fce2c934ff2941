import cliProgress from 'cli-progress';
import type { RunStatus } from '../core/runs/run-status.js';
import { CHAT_STAGES, DOCUMENT_STAGES, type Stage } from '../core/stages.js';

/** Tasks done out of tasks known so far, per pipeline; the totals grow as the run fans out. */
export function pipelineProgress(status: RunStatus): { documents: [number, number]; chats: [number, number] } {
  const sum = (stages: readonly Stage[]) => {
    let done = 0;
    let total = 0;
    for (const name of stages) {
      const s = status.stages[name];
      if (!s) continue;
      done += s.done;
      total += s.done + s.active + s.queued;
    }
    return [done, total] as [number, number];
  };
  return {
    documents: sum(DOCUMENT_STAGES),
    chats: sum(CHAT_STAGES),
  };
}

/** Progress bars on a terminal, a plain line every few seconds elsewhere (CI logs). */
export class ProgressView {
  readonly #bars: cliProgress.MultiBar | undefined;
  readonly #docs: cliProgress.SingleBar | undefined;
  readonly #chats: cliProgress.SingleBar | undefined;
  #lastLine = 0;

  constructor(
    readonly tty = Boolean(process.stderr.isTTY),
    readonly show = { documents: true, chats: true },
  ) {
    if (!tty) return;
    this.#bars = new cliProgress.MultiBar(
      { format: ' {label} [{bar}] {value}/{total} tasks | {detail}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    if (show.documents) this.#docs = this.#bars.create(1, 0, { label: 'documents', detail: '' });
    if (show.chats) this.#chats = this.#bars.create(1, 0, { label: 'chats    ', detail: '' });
  }

  update(status: RunStatus): void {
    const p = pipelineProgress(status);
    const docs = status.stages.revise ?? status.stages.documents;
    const chats = status.stages['chat-responses'];
    const docDetail = `${docs?.accepted ?? 0} accepted, ${docs?.rejected ?? 0} rejected`;
    const chatDetail = `${chats?.accepted ?? 0} accepted, ${chats?.rejected ?? 0} rejected`;
    if (this.#bars) {
      this.#docs?.setTotal(Math.max(1, p.documents[1]));
      this.#docs?.update(p.documents[0], { detail: docDetail });
      this.#chats?.setTotal(Math.max(1, p.chats[1]));
      this.#chats?.update(p.chats[0], { detail: chatDetail });
    } else if (Date.now() - this.#lastLine > 5000) {
      this.#lastLine = Date.now();
      const parts = [];
      if (this.show.documents) parts.push(`documents ${p.documents[0]}/${p.documents[1]} tasks (${docDetail})`);
      if (this.show.chats) parts.push(`chats ${p.chats[0]}/${p.chats[1]} tasks (${chatDetail})`);
      process.stderr.write(`[${status.state}] ${parts.join(' | ')}\n`);
    }
  }

  stop(): void {
    this.#bars?.stop();
  }
}
