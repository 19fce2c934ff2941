import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An append-only JSONL file whose durable length is the length committed in Redis. Opening it
 * cuts off anything written after the last commit (a crash between write and commit), so a
 * retried result is written once. One writer per file: the producer holding the lock.
 */
export class AppendLog {
  #fd: number;
  #length: number;

  constructor(
    readonly path: string,
    committedLength: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'a+');
    const size = fstatSync(this.#fd).size;
    if (size > committedLength) ftruncateSync(this.#fd, committedLength);
    if (size < committedLength) {
      throw new Error(`${path} is shorter (${size} B) than its committed length (${committedLength} B): the file was lost or edited`);
    }
    this.#length = committedLength;
  }

  get length(): number {
    return this.#length;
  }

  /** Writes the records as JSON lines; returns the new (uncommitted) length. */
  append(records: readonly unknown[]): number {
    if (records.length === 0) return this.#length;
    const buffer = Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
    let written = 0;
    while (written < buffer.length) written += writeSync(this.#fd, buffer, written);
    this.#length += buffer.length;
    return this.#length;
  }

  /** Forgets writes after `length` (a failed commit). */
  rollback(length: number): void {
    ftruncateSync(this.#fd, length);
    this.#length = length;
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }
}
