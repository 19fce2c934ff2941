import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Line<T> {
  value: T;
  /** Byte offset where the line starts and where the next one starts. */
  start: number;
  end: number;
}

/**
 * Reads whole JSON lines from `from` up to `to` (a committed length), at most `maxBytes` of them,
 * so expansion streams through item files of any size in small steps.
 */
export function readLines<T>(path: string, from: number, to: number, maxBytes = 1 << 20): Line<T>[] {
  if (from >= to) return [];
  const size = Math.min(to - from, maxBytes);
  const buffer = Buffer.alloc(size);
  const fd = openSync(path, 'r');
  try {
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, from + read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  const lines: Line<T>[] = [];
  let start = 0;
  for (;;) {
    const newline = buffer.indexOf(10, start);
    if (newline === -1) break;
    lines.push({ value: JSON.parse(buffer.toString('utf8', start, newline)) as T, start: from + start, end: from + newline + 1 });
    start = newline + 1;
  }
  if (lines.length === 0 && size === maxBytes && to - from > maxBytes) {
    return readLines<T>(path, from, to, maxBytes * 4);
  }
  return lines;
}

/** The records of a run file up to its committed length: a line being written right now is not read. */
export async function* committedRecords(path: string, committed: number): AsyncGenerator<Record<string, unknown>> {
  if (committed === 0 || !existsSync(path)) return;
  const lines = createInterface({ input: createReadStream(path, { start: 0, end: committed - 1 }), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as Record<string, unknown>;
}

/** What a filter or audit reads of a record: a document's text, or a chat's assistant turns. */
export function recordText(record: Record<string, unknown>): string {
  if (typeof record.text === 'string') return record.text;
  const messages = (record.messages as { role: string; content: string }[] | undefined) ?? [];
  return messages.filter((m) => m.role === 'assistant').map((m) => m.content).join('\n\n');
}
