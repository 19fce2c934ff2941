import t from 'tap';
import { assertBindAllowed, isLoopbackHost, OpenBindError } from '../../../core/auth/loopback.js';
import { parseTokenFile, TokenFileError } from '../../../core/auth/token-file.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(40);

function problemsOf(text: string): string[] {
  try {
    parseTokenFile(text, '/etc/tokens.yaml');
  } catch (err) {
    if (err instanceof TokenFileError) return err.problems;
    throw err;
  }
  throw new Error('parsed');
}

t.test('a YAML or JSON list of {token, role, name?}', async (t) => {
  t.same(parseTokenFile(`- name: ci\n  role: submit\n  token: ${A}\n- role: read\n  token: ${B}\n`, 'f'), [
    { token: A, role: 'submit', name: 'ci' },
    { token: B, role: 'read' },
  ]);
  t.same(parseTokenFile(JSON.stringify([{ token: A, role: 'admin' }]), 'f'), [{ token: A, role: 'admin' }]);
  t.same(parseTokenFile('', 'f'), [], 'an empty file: no tokens');
});

t.test('every problem names the entry, line and field, and never quotes a token', async (t) => {
  const text = [
    `- role: writer`, // 1
    `  token: ${A}`, // 2
    `- role: read`, // 3
    `  token: short`, // 4
    `- role: admin`, // 5
    `  token: ${A}`, // 6
    `  colour: blue`, // 7
    `- role: read`, // 8
    `- just a string`, // 9
  ].join('\n');
  const problems = problemsOf(text);
  t.same(problems, [
    'entry 1 (line 1): role: must be one of read, submit, admin',
    'entry 2 (line 4): token: must be at least 16 characters without spaces (e.g. openssl rand -hex 32)',
    'entry 3 (line 7): colour: unknown field (allowed: token, role, name)',
    'entry 3 (line 6): token: the same token as entry 1',
    'entry 4 (line 8): token: required, a string',
    'entry 5 (line 9): must be a map {token, role, name?}',
  ]);
  t.notMatch(problems.join(' '), /aaaa|short/, 'no token value in the messages');
  t.match(new TokenFileError('/etc/tokens.yaml', problems).message, /^SDF_API_TOKENS_FILE \/etc\/tokens.yaml: entry 1/);
});

t.test('broken YAML is reported by line without quoting the file', async (t) => {
  const problems = problemsOf(`- role: read\n  token: "${A}\n`);
  t.match(problems[0], /^line \d+: not valid YAML \(\w+\)$/);
  t.notMatch(problems.join(' '), /aaaa/);
  t.same(problemsOf(`token: ${A}\nrole: read\n`), ['line 1: must be a list of {token, role, name?}']);
});

t.test('loopback: 127.0.0.0/8, ::1 and localhost; anything else needs a token', async (t) => {
  for (const host of ['127.0.0.1', '127.9.8.7', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'sdf-api', '::2']) t.notOk(isLoopbackHost(host), host);
  t.doesNotThrow(() => assertBindAllowed('127.0.0.1', false));
  t.doesNotThrow(() => assertBindAllowed('0.0.0.0', true));
  t.throws(() => assertBindAllowed('0.0.0.0', false), OpenBindError);
  t.throws(() => assertBindAllowed('0.0.0.0', false), /SDF_API_TOKEN.*SDF_API_TOKENS_FILE/);
});
