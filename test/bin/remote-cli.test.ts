import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';
import { freePort } from '../helpers/redis-server.js';

/**
 * The remote commands as a user runs them: `sdf-farm …` child processes against a real farm
 * (the API as a `serve` child process with a token, and an in-process one without), real Redis,
 * the simulator behind the workers.
 */

/** The CLI with nothing of this shell's farm address or token: each call says what it uses. */
const sdfFarm = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, env, ['SDF_API_TOKEN', 'SDF_API_URL'].filter((name) => !(name in env)));

/** The API itself, for what the CLI must reproduce. */
async function api(farm: TestFarm, path: string, token?: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${farm.apiUrl}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), ...(token ? { authorization: `Bearer ${token}` } : {}) } });
}


const SPEC = `name: remote-cli
universe: |
  - Aster says plainly when it does not know something.
keyFacts:
  - Aster says plainly when it does not know something.
  - Aster gives its confidence as a number when it can.
documents: { docTypesPerFact: 1, ideasPerType: 2, docsPerIdea: 4 }
`;

function specFiles(t: Test): { dir: string; spec: string; bad: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-remote-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, SPEC);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'universe: ""\ndocuments: { docTypesPerFact: 0, ideasPerType: 1, docsPerIdea: 1 }\n');
  return { dir, spec, bad };
}

t.test('with a token: every remote command, refused without it', async (t) => {
  const TOKEN = 'remote-cli-s3cret';
  const farm = await startTestFarm(t, { server: 'child' });
  await farm.spawnServe({ SDF_API_TOKEN: TOKEN });
  const { dir, spec, bad } = specFiles(t);
  const withToken = { SDF_API_TOKEN: TOKEN, SDF_API_URL: farm.apiUrl };
  const apiFlag = ['--api', farm.apiUrl];

  // No worker yet: the run submitted now stays unfinished until it is cancelled.
  const [noToken, wrongToken, unreachable, invalid, dryRun, queued] = await Promise.all([
    sdfFarm(['submit', spec, ...apiFlag]),
    sdfFarm(['status', '--json', ...apiFlag], { SDF_API_TOKEN: 'wrong' }),
    freePort().then((port) => sdfFarm(['status', '--api', `http://127.0.0.1:${port}`])),
    sdfFarm(['submit', bad, ...apiFlag], { SDF_API_TOKEN: TOKEN }),
    sdfFarm(['submit', spec, '--dry-run', '--json'], withToken),
    sdfFarm(['submit', spec], withToken),
  ]);
  t.equal(noToken.code, 4, 'no token: exit 4');
  t.match(noToken.stderr, /needs a token \(401: .*\); set SDF_API_TOKEN/);
  t.equal(wrongToken.code, 4, 'a wrong token: exit 4');
  t.same(Object.keys(JSON.parse(wrongToken.stderr) as object), ['error', 'status', 'exitCode'], '--json: the failure as one JSON object on stderr');
  t.match(JSON.parse(wrongToken.stderr), { status: 401, exitCode: 4, error: /refused the token in SDF_API_TOKEN/ });
  t.equal(unreachable.code, 3, 'nothing listening: exit 3');
  t.match(unreachable.stderr, /cannot reach the farm API at http:\/\/127\.0\.0\.1:\d+: .*; set --api or SDF_API_URL/);
  t.equal(invalid.code, 2, 'an invalid spec: exit 2');
  t.match(invalid.stderr, /invalid run spec/);
  t.match(invalid.stderr, /^ {2}universe: must NOT have fewer than 1 characters$/m, 'with the API\'s problems, one a line');
  t.equal(dryRun.code, 0, dryRun.stderr);
  const estimate = await (await api(farm, '/v1/runs?dryRun=true', TOKEN, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: SPEC })).json();
  t.same(JSON.parse(dryRun.stdout), estimate, 'submit --dry-run --json prints the API\'s estimate');
  t.equal(queued.code, 0, queued.stderr);
  const queuedId = queued.stdout.trim();
  t.match(queuedId, /^run_[a-z0-9]+$/, 'submit prints the run id');

  const cancel = await sdfFarm(['cancel', queuedId], withToken);
  t.equal(cancel.code, 0, cancel.stderr);
  t.equal(cancel.stdout, `run ${queuedId} cancelled\n`);

  await farm.startWorker();
  const [watchCancelled, waited] = await Promise.all([sdfFarm(['watch', queuedId], withToken), sdfFarm(['submit', spec, '--wait', '--interval', '200'], withToken)]);
  t.equal(watchCancelled.code, 1, 'watch of a run that ended cancelled: exit 1');
  t.match(watchCancelled.stderr, new RegExp(`run ${queuedId} \\(remote-cli\\): cancelled`));
  t.equal(waited.code, 0, `submit --wait of a run that completes: exit 0 (${waited.stderr})`);
  const runId = waited.stdout.trim();
  t.match(runId, /^run_[a-z0-9]+$/, 'submit --wait prints the run id on stdout (the progress goes to stderr)');
  t.match(waited.stderr, new RegExp(`run ${runId} completed`));
  t.match(waited.stderr, /^ {2}documents \d+\/\d+ tasks \| [\d.?]+\/s \| ETA \S+ \| accepted (\d+%|-) \| \$\d+\.\d{4}$/m, 'non-TTY: plain lines per stage with rate, ETA, acceptance, spend');

  const [status, list, table, exported] = await Promise.all([
    sdfFarm(['status', runId, '--json'], withToken),
    sdfFarm(['status', '--json'], withToken),
    sdfFarm(['status'], withToken),
    sdfFarm(['export', runId], withToken),
  ]);
  t.equal(status.code, 0, status.stderr);
  t.same(JSON.parse(status.stdout), await (await api(farm, `/v1/runs/${runId}`, TOKEN)).json(), 'status RUN --json is GET /v1/runs/:id');
  t.same(JSON.parse(list.stdout), await (await api(farm, '/v1/runs', TOKEN)).json(), 'status --json is GET /v1/runs');
  t.match(table.stdout, new RegExp(`^${runId}\\s+remote-cli\\s+completed\\s`, 'm'), 'status: a table with a line a run');
  t.match(table.stdout, new RegExp(`^${queuedId}\\s+remote-cli\\s+cancelled\\s`, 'm'));
  const apiExport = await (await api(farm, `/v1/runs/${runId}/export?kind=documents&format=raw`, TOKEN)).text();
  const lines = apiExport.split('\n').filter(Boolean);
  t.ok(lines.length >= 6, `the run exported ${lines.length} documents`);
  t.equal(exported.code, 0, exported.stderr);
  t.equal(exported.stdout, apiExport, 'export to stdout: the API\'s lines');

  // The API's offset: skip that many exported records; validated.
  t.equal(await (await api(farm, `/v1/runs/${runId}/export?offset=3`, TOKEN)).text(), lines.slice(3).map((l) => `${l}\n`).join(''), 'offset=3 skips 3 records');
  const badOffset = await api(farm, `/v1/runs/${runId}/export?offset=-1`, TOKEN);
  t.equal(badOffset.status, 400);
  t.match((await badOffset.json()) as object, { error: /offset/ }, 'a bad offset is a 400 naming it');

  // Export into a file, then resume one an interruption cut in the middle of a record.
  const full = join(dir, 'full.jsonl');
  const cut = join(dir, 'cut.jsonl');
  const other = join(dir, 'other.jsonl');
  const keep = 3;
  writeFileSync(cut, lines.slice(0, keep).map((l) => `${l}\n`).join('') + lines[keep]!.slice(0, 40));
  const otherExport = await (await api(farm, `/v1/runs/${runId}/export?format=text`, TOKEN)).text();
  const otherText = otherExport.split('\n').slice(0, 2).join('\n') + '\n{"text":"cut of';
  writeFileSync(other, otherText);
  const [toFile, resumed, mismatch] = await Promise.all([
    sdfFarm(['export', runId, '--kind', 'documents', '--format', 'raw', '-o', full, '--json'], withToken),
    sdfFarm(['export', runId, '-o', cut], withToken),
    sdfFarm(['export', runId, '-o', other], withToken),
  ]);
  t.equal(toFile.code, 0, toFile.stderr);
  t.equal(readFileSync(full, 'utf8'), apiExport, 'export -o FILE writes the API\'s lines');
  t.same(JSON.parse(toFile.stdout), { id: runId, kind: 'documents', format: 'raw', records: lines.length, written: lines.length, resumedAfter: 0, file: full });
  t.equal(resumed.code, 0, resumed.stderr);
  t.equal(readFileSync(cut, 'utf8'), apiExport, 'the resumed file is the whole export: no line twice, none missing, the cut record whole');
  t.match(resumed.stdout, `(${keep} were there; ${lines.length - keep} added)`);
  t.equal(mismatch.code, 2, 'a file holding another export is not appended to');
  t.match(mismatch.stderr, /does not continue this export .*--restart/);
  t.equal(readFileSync(other, 'utf8'), otherText, 'and is left as it was, its cut-off last line too');

  const [restarted, retry, unknown, badKind, deleted] = await Promise.all([
    sdfFarm(['export', runId, '-o', other, '--restart'], withToken),
    sdfFarm(['retry-failed', runId, '--json'], withToken),
    sdfFarm(['status', 'run_nosuchrun0'], withToken),
    sdfFarm(['export', runId, '--kind', 'people'], withToken),
    sdfFarm(['delete', queuedId, '--json'], withToken),
  ]);
  t.equal(restarted.code, 0, restarted.stderr);
  t.equal(readFileSync(other, 'utf8'), apiExport, '--restart overwrites it');
  t.equal(retry.code, 0, retry.stderr);
  t.same(JSON.parse(retry.stdout), { id: runId, retried: 0 }, 'retry-failed --json: the API\'s answer');
  t.equal(unknown.code, 5, 'an unknown run: exit 5');
  t.match(unknown.stderr, /run run_nosuchrun0 not found at http/);
  t.equal(badKind.code, 2, 'a bad option value: exit 2');
  t.equal(deleted.code, 0, deleted.stderr);
  t.match(JSON.parse(deleted.stdout), { id: queuedId, deleted: true });
  t.equal((await api(farm, `/v1/runs/${queuedId}`, TOKEN)).status, 404, 'the run is gone');
});

t.test('without a token, on a farm that needs none', async (t) => {
  const farm = await startTestFarm(t);
  await farm.startWorker();
  const { dir, spec } = specFiles(t);
  const other = join(dir, 'other.yaml');
  writeFileSync(other, SPEC.replace('name: remote-cli', 'name: remote-cli-2').replace('Aster', 'Vega'));
  const env = { SDF_API_URL: farm.apiUrl };

  // Two runs at once: one followed by watch, one by submit --wait. The second spec differs, so its
  // calls are not answered from the first one's response cache (it runs, it does not just finish).
  const submitted = await sdfFarm(['submit', spec], env);
  const runId = submitted.stdout.trim();
  const [watched, waited] = await Promise.all([sdfFarm(['watch', runId, '--interval', '200'], env), sdfFarm(['submit', other, '--wait', '--json', '--interval', '200'], env)]);
  t.equal(waited.code, 0, waited.stderr);
  const final = JSON.parse(waited.stdout) as { id: string; state: string };
  t.equal(final.state, 'completed', 'submit --wait --json prints the final status');
  t.equal(watched.code, 0, `watch exits 0 once the run completes (${watched.stderr})`);
  t.match(watched.stderr, new RegExp(`^run ${runId} \\(remote-cli\\): completed, \\$\\d+\\.\\d{4} spent$`, 'm'));
  t.match(watched.stderr, /^ {2}documents \d+\/\d+ tasks \| .* \| accepted \d+% \| \$\d+\.\d{4}$/m);

  const [status, exported, cancel] = await Promise.all([
    sdfFarm(['status', final.id, '--json'], env),
    sdfFarm(['export', final.id, '--kind', 'rejected'], env),
    sdfFarm(['cancel', final.id], env),
  ]);
  t.same(JSON.parse(status.stdout), await farm.status(final.id));
  t.equal(exported.stdout, await (await api(farm, `/v1/runs/${final.id}/export?kind=rejected`)).text());
  t.equal(cancel.code, 0);
  t.equal(cancel.stdout, `run ${final.id} was already completed; nothing to cancel\n`);
});

t.test('every command\'s --help ends with an example', async (t) => {
  const { Command } = await import('commander');
  const { registerLocalCommands } = await import('../../bin/local-commands.js');
  const { REMOTE_COMMANDS, registerRemoteCommands } = await import('../../bin/remote-commands.js');
  const program = new Command('sdf-farm');
  registerLocalCommands(program);
  registerRemoteCommands(program);
  t.same(
    program.commands.map((c) => c.name()).slice(-REMOTE_COMMANDS.length),
    [...REMOTE_COMMANDS],
    'REMOTE_COMMANDS names exactly the remote commands (sdf-farm.ts loads only those for one of them)',
  );
  for (const command of program.commands) {
    let help = '';
    command.configureOutput({ writeOut: (s) => (help += s) });
    command.outputHelp();
    t.match(help, new RegExp(`\\nExamples:\\n {2}\\$ .*sdf-farm ${command.name()}\\b`), `sdf-farm ${command.name()} --help shows an example`);
  }
});
