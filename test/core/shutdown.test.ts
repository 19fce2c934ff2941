import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../helpers/farm.js';

/**
 * Runs the fixture; each step sends its signal once the child has printed the step's line (one
 * signal per line: two signals sent at once can reach the process as one). Reports how it ended.
 */
async function runChild(env: Record<string, string>, steps: [line: string, signal: NodeJS.Signals][]): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/fixtures/close-on-signals-child.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const pending = [...steps];
  child.stdout.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    while (pending.length > 0 && lines.includes(pending[0]![0])) child.kill(pending.shift()![1]);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, lines };
}

t.test('a SIGTERM during start-up waits for the start, closes the service and exits 0', async (t) => {
  const { code, lines } = await runChild({ START_MS: '800' }, [['handlers installed', 'SIGTERM']]);
  t.equal(code, 0);
  t.same(lines, ['handlers installed', 'started', 'closing', 'closed']);
});

t.test('a SIGTERM while running drains and exits 0', async (t) => {
  const { code, lines } = await runChild({ CLOSE_MS: '300' }, [['started', 'SIGTERM']]);
  t.equal(code, 0);
  t.same(lines, ['handlers installed', 'started', 'closing', 'closed']);
});

t.test('a second signal while draining exits 1 at once', async (t) => {
  const { code, lines } = await runChild({ CLOSE_MS: '3000' }, [['started', 'SIGTERM'], ['closing', 'SIGTERM']]);
  t.equal(code, 1);
  t.notOk(lines.includes('closed'));
});

t.test('a close that outlasts the grace period exits 1', async (t) => {
  const { code, lines } = await runChild({ CLOSE_MS: '5000', GRACE_MS: '300' }, [['started', 'SIGTERM']]);
  t.equal(code, 1);
  t.notOk(lines.includes('closed'));
});
