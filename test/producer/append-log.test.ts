import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AppendLog } from '../../producer/append-log.js';
import { readLines } from '../../producer/read-lines.js';

function tempFile(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'sub', 'out.jsonl');
}

t.test('reopening cuts off what was written after the last commit', async (t) => {
  const path = tempFile(t);
  const log = new AppendLog(path, 0);
  const committed = log.append([{ id: 'a' }, { id: 'b' }]);
  log.append([{ id: 'uncommitted' }]);
  log.close();
  appendFileSync(path, '{"id":"half');
  const reopened = new AppendLog(path, committed);
  reopened.append([{ id: 'c' }]);
  reopened.close();
  t.same(
    readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id),
    ['a', 'b', 'c'],
  );
});

t.test('a file shorter than its committed length is an error, not silent loss', async (t) => {
  const path = tempFile(t);
  new AppendLog(path, 0).close();
  writeFileSync(path, '{"id":"a"}\n');
  t.throws(() => new AppendLog(path, 1000), /shorter/);
});

t.test('rollback forgets a failed commit', async (t) => {
  const path = tempFile(t);
  const log = new AppendLog(path, 0);
  const first = log.append([{ n: 1 }]);
  log.append([{ n: 2 }]);
  log.rollback(first);
  t.equal(log.length, first);
  log.close();
  t.equal(readFileSync(path, 'utf8'), '{"n":1}\n');
});

t.test('readLines returns whole lines within the committed range, with offsets', async (t) => {
  const path = tempFile(t);
  const log = new AppendLog(path, 0);
  const committed = log.append([{ n: 1 }, { n: 2 }, { n: 3 }]);
  log.append([{ n: 4 }]);
  log.close();
  const lines = readLines<{ n: number }>(path, 0, committed);
  t.same(lines.map((l) => l.value.n), [1, 2, 3]);
  t.equal(lines[1]?.start, lines[0]?.end);
  t.same(readLines<{ n: number }>(path, lines[1]!.start, committed).map((l) => l.value.n), [2, 3]);
  // A step too small for even one line grows until it holds one.
  t.same(readLines<{ n: number }>(path, 0, committed, 3).map((l) => l.value.n), [1]);
});
