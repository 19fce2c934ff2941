import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { CliError, EXIT } from './exit-codes.js';

/** What an earlier (maybe interrupted) export left in a file. */
export interface ExportFileState {
  /** Whole lines (records) in the file. */
  lines: number;
  /** Bytes up to and including the last newline: what survives; the rest is a cut-off record. */
  completeBytes: number;
  size: number;
  /** The last whole line, without its newline: the record the resumed export must start with. */
  lastLine: Buffer | undefined;
}

/** Reads an export file once, streaming (it can be gigabytes), counting its whole lines. */
export async function readExportFileState(path: string): Promise<ExportFileState> {
  let lines = 0;
  let position = 0;
  let lastNewline = -1;
  let newlineBefore = -1;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
      lines++;
      newlineBefore = lastNewline;
      lastNewline = position + i;
    }
    position += chunk.length;
  }
  if (lines === 0) return { lines, completeBytes: 0, size: position, lastLine: undefined };
  const lastLine = Buffer.alloc(lastNewline - newlineBefore - 1);
  const file = await open(path, 'r');
  try {
    await file.read(lastLine, 0, lastLine.length, newlineBefore + 1);
  } finally {
    await file.close();
  }
  return { lines, completeBytes: lastNewline + 1, size: position, lastLine };
}

/**
 * Counts the records passing through, and on a resume first checks the overlap: the export is
 * asked to start one record early, and that record must be the file's last line. Otherwise the
 * file holds some other export (another run, kind or format, or records withheld since), and
 * appending to it would make a file that is neither.
 */
export class ExportLines extends Transform {
  records = 0;
  /** Bytes passed on (after the overlap). */
  bytes = 0;
  #expect: Buffer | undefined;
  #pending: Buffer | undefined;

  constructor(
    expectFirst: Buffer | undefined,
    readonly describe: string,
  ) {
    super();
    this.#expect = expectFirst;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#expect) {
      this.#pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
      const end = this.#pending.indexOf(10);
      if (end === -1) return done();
      if (!this.#pending.subarray(0, end).equals(this.#expect)) return done(this.#mismatch('its last line is not the same record of the export'));
      chunk = this.#pending.subarray(end + 1);
      this.#expect = undefined;
      this.#pending = undefined;
    }
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.records++;
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    done(this.#expect ? this.#mismatch('the export has fewer records than the file has lines') : undefined);
  }

  #mismatch(why: string): CliError {
    return new CliError(`${this.describe} does not continue this export (${why}); give --restart to write it from the start, or another -o`, EXIT.usage);
  }
}
