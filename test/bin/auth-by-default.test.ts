import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { REPO_ROOT } from '../helpers/farm.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/** Auth by default, through the real CLI: a non-loopback HOST without a token is refused at once. */

/**
 * The refusal comes before anything connects or listens, so it takes what the CLI takes to load
 * (about 3 s of CPU; 15-45 s of wall time on a test machine shared by many processes), never
 * waiting on Redis, which these tests point at a closed port; the bound is loose for such a machine.
 */
const REFUSED_WITHIN_MS = 90_000;

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-auth-bin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sdfFarm(t: Test, args: string[], env: NodeJS.ProcessEnv) {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin/sdf-farm.ts'), ...args], {
    env: {
      ...process.env,
      GEMINI_API_KEY: '',
      GEMINI_BASE_URL: 'http://127.0.0.1:9',
      SDF_PREFIX: uniquePrefix('authbin'),
      DATA_DIR: tempDir(t),
      REDIS_URL: TEST_REDIS_URL,
      PORT: '0',
      LOG_LEVEL: 'info',
      SDF_API_TOKEN: '',
      SDF_API_TOKENS_FILE: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => child.once('exit', (code) => resolve({ code, ms: Date.now() - started })));
  return {
    output: () => output,
    /** Exit code and time since spawn; killed (code null) past `limitMs`. */
    async exit(limitMs: number) {
      const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    async listening(timeoutMs = 60_000): Promise<string> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const m = /api listening on (http:\/\/[\d.]+:\d+)/.exec(output);
        if (m) return m[1]!;
        if (child.exitCode !== null || Date.now() > until) throw new Error(`not listening; output: ${output.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

// The children load the CLI in parallel: each one's start-up is most of this file's time.

t.test('on 0.0.0.0 without a token, serve and run exit non-zero at once, saying why; so does a bad token file', async (t) => {
  // A Redis that does not answer: the refusal comes before anything connects.
  const serve = sdfFarm(t, ['serve'], { HOST: '0.0.0.0', REDIS_URL: 'redis://127.0.0.1:9' });
  const run = sdfFarm(t, ['run', join(REPO_ROOT, 'examples/traits-run.yaml'), '--quiet'], { HOST: '0.0.0.0' });
  const bad = join(tempDir(t), 'bad.yaml');
  const token = randomBytes(24).toString('hex');
  writeFileSync(bad, `- role: reader\n  token: ${token}\n`);
  const badFile = sdfFarm(t, ['serve'], { HOST: '0.0.0.0', SDF_API_TOKENS_FILE: bad, REDIS_URL: 'redis://127.0.0.1:9' });
  const [served, ran, badServed] = await Promise.all([serve.exit(REFUSED_WITHIN_MS), run.exit(REFUSED_WITHIN_MS), badFile.exit(REFUSED_WITHIN_MS)]);

  t.equal(served.code, 1, `serve exited 1 by itself (${served.ms} ms)`);
  t.match(serve.output(), /refusing to serve the API on 0\.0\.0\.0 without a token/);
  t.match(serve.output(), /SDF_API_TOKEN/);
  t.match(serve.output(), /SDF_API_TOKENS_FILE/);
  t.notMatch(serve.output(), /api listening/);

  t.equal(ran.code, 1, `run exited 1 (${ran.ms} ms)`);
  t.match(run.output(), /refusing to serve the API on 0\.0\.0\.0 without a token.*SDF_API_TOKEN/s);
  t.notMatch(run.output(), /submitted/);

  t.equal(badServed.code, 1, `a bad token file: exited 1 (${badServed.ms} ms)`);
  t.match(badFile.output(), /SDF_API_TOKENS_FILE .*bad\.yaml: entry 1 \(line 1\): role: must be one of read, submit, admin/);
  t.notOk(badFile.output().includes(token), 'the token is not quoted');
});

t.test('on 0.0.0.0 with SDF_API_TOKEN, or SDF_API_TOKENS_FILE, serve serves and checks tokens and roles', async (t) => {
  const admin = randomBytes(24).toString('hex');
  const reader = randomBytes(24).toString('hex');
  const file = join(tempDir(t), 'tokens.yaml');
  writeFileSync(file, `- name: dashboard\n  role: read\n  token: ${reader}\n`);
  const withEnv = sdfFarm(t, ['serve'], { HOST: '0.0.0.0', SDF_API_TOKEN: admin });
  const withFile = sdfFarm(t, ['serve'], { HOST: '0.0.0.0', SDF_API_TOKENS_FILE: file });
  const [envUrl, fileUrl] = await Promise.all([withEnv.listening(), withFile.listening()]);

  t.equal((await fetch(`${envUrl}/v1/runs`)).status, 401);
  t.equal((await fetch(`${envUrl}/v1/runs`, { headers: { authorization: `Bearer ${admin}` } })).status, 200);
  t.equal((await fetch(`${envUrl}/healthz`)).status, 200);

  const headers = { authorization: `Bearer ${reader}` };
  t.equal((await fetch(`${fileUrl}/v1/runs`, { headers })).status, 200);
  t.equal((await fetch(`${fileUrl}/v1/runs`, { method: 'POST', headers, body: '{}' })).status, 403);
  t.notOk(withEnv.output().includes(admin) || withFile.output().includes(reader), 'no token is logged');
});
