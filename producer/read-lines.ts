import { closeSync, openSync, readSync } from 'node:fs';

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
