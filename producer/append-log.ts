import { closeSync, fdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

const fdatasyncAsync = promisify(fdatasync);
import { dirname } from 'node:path';

/** A run file holds less than its committed length: the host lost writes that were not yet on disk. */
export class OutputFileLostError extends Error {
  override name = 'OutputFileLostError';
  constructor(
    readonly path: string,
    readonly size: number,
    readonly committed: number,
  ) {
    super(`${path} is shorter (${size} B) than its committed length (${committed} B): writes were lost (host crash without fsync?) or the file was edited`);
  }
}

/**
 * An append-only JSONL file whose real length is the length committed in Redis. Bytes past it
 * are not part of the file: a crash between write and commit, or a former owner of the run that
 * woke up after losing its lease and appended once more. Opening cuts them off, and so does every
 * append (the file is opened O_APPEND, so a stray writer can only ever add at the end, and the
 * size is checked before and after each write). Readers stop at the committed length too.
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
    if (size < committedLength) {
      closeSync(this.#fd);
      throw new OutputFileLostError(path, size, committedLength);
    }
    if (size > committedLength) ftruncateSync(this.#fd, committedLength);
    this.#length = committedLength;
  }

  get length(): number {
    return this.#length;
  }

  /** Writes the records as JSON lines; returns the new (uncommitted) length. */
  append(records: readonly unknown[]): number {
    if (records.length === 0) return this.#length;
    const buffer = Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
    const before = this.#length;
    if (fstatSync(this.#fd).size !== before) ftruncateSync(this.#fd, before);
    let written = 0;
    while (written < buffer.length) written += writeSync(this.#fd, buffer, written);
    if (fstatSync(this.#fd).size !== before + buffer.length) {
      // Someone else appended between our check and our write: our lines may sit after theirs.
      ftruncateSync(this.#fd, before);
      throw new Error(`${this.path}: another writer appended during a write; the batch will be written again`);
    }
    this.#length = before + buffer.length;
    return this.#length;
  }

  /**
   * Makes what was appended durable (fdatasync), before its length is committed. Asynchronous:
   * on a slow disk a sync takes milliseconds, and the process's other runs, its lease renewals and
   * its API must not wait behind it.
   */
  sync(): Promise<void> {
    return fdatasyncAsync(this.#fd);
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
