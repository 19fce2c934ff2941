import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, startTestFarm } from '../helpers/farm.js';
import { runTool } from '../helpers/tools.js';
import { freePort } from '../../bin/local-redis.js';

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every PromQL expression of every dashboard panel, with Grafana's interval variable filled in. */
function dashboardExpressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const file of ['farm-overview.json', 'model-quotas.json']) {
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards/grafana', file), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    for (const panel of dashboard.panels) for (const target of panel.targets) out.push({ where: `${file} / ${panel.title}`, expr: target.expr.replaceAll('$__rate_interval', '1m') });
  }
  return out;
}

t.test('a real Prometheus scrapes a farm running a spec; every dashboard query returns data', async (t) => {
  const farm = await startTestFarm(t, { sim: { errorRate429: 0.05, safetyRate: 0.05, latencyMs: 20 } });
  const workerPort = await freePort();
  await farm.spawnWorker({ WORKER_METRICS_PORT: String(workerPort), WORKER_CONCURRENCY: '8' });
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  await until('worker metrics', async () => ((await fetch(`${workerUrl}/readyz`)).ok ? true : undefined));

  const dir = mkdtempSync(join(tmpdir(), 'sdf-prom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(REPO_ROOT, 'dashboards/alerts.yml'), join(dir, 'alerts.yml'));
  const hostOf = (url: string) => url.replace(/^http:\/\//, '');
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - { job_name: sdf-api, static_configs: [{ targets: ['${hostOf(farm.apiUrl)}'] }] }`,
      `  - { job_name: sdf-worker, static_configs: [{ targets: ['${hostOf(workerUrl)}'] }] }`,
      `  - { job_name: sdf-sim, static_configs: [{ targets: ['${hostOf(farm.simUrl)}'] }] }`,
    ].join('\n'),
  );
  t.equal(runTool('promtool', ['check', 'config', join(dir, 'prometheus.yml')]).status, 0, 'promtool accepts the config');
  const promPort = await freePort();
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  t.teardown(() => void prometheus.kill('SIGKILL'));
  const prom = `http://127.0.0.1:${promPort}`;
  await until('prometheus ready', async () => ((await fetch(`${prom}/-/ready`)).ok ? true : undefined));

  const runId = await farm.submit({
    universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    traits: ['Aster admits uncertainty.'],
    documents: { docTypesPerFact: 2, ideasPerType: 4, docsPerIdea: 4 },
    chats: { promptsPerTrait: 10 },
    limits: { 'gemini-2.5-flash': { rpm: 6000, tpm: 10_000_000 }, 'gemini-2.5-pro': { rpm: 6000 } },
  });
  t.equal((await farm.waitFor(runId, undefined, 120_000)).state, 'completed');

  const query = async (expr: string) => {
    const res = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; data?: { result: unknown[] }; error?: string };
    if (res.status !== 'success') throw new Error(`${expr}: ${res.error}`);
    return res.data!.result;
  };
  // Wait until the scrapes after the run are in, so rates over the last minute see the run.
  await until('all targets scraped', async () => ((await query('count(up == 1)')).length && Number(((await query('count(up == 1)'))[0] as { value: [number, string] }).value[1]) === 3 ? true : undefined));
  await new Promise((r) => setTimeout(r, 4000));

  for (const { where, expr } of dashboardExpressions()) {
    const result = await query(expr);
    t.ok(result.length > 0, `${where}: ${expr} returns data`);
  }

  const rules = (await (await fetch(`${prom}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
  const loaded = rules.data.groups.flatMap((g) => g.rules);
  t.same(loaded.map((r) => r.name).sort(), ['SdfBacklogNotDraining', 'SdfNoWorkers', 'SdfRateLimitStorm', 'SdfRejectionRateSpike']);
  t.ok(loaded.every((r) => r.health === 'ok'), 'every alert rule evaluates without error');
  t.equal(runTool('promtool', ['check', 'rules', join(REPO_ROOT, 'dashboards/alerts.yml')]).status, 0, 'promtool check rules');

  for (const [name, url] of [['api', farm.apiUrl], ['worker', workerUrl], ['sim', farm.simUrl]]) {
    const body = await (await fetch(`${url}/metrics`)).text();
    const lint = runTool('promtool', ['check', 'metrics'], { input: body });
    t.equal(lint.status, 0, `promtool check metrics accepts the ${name}'s /metrics ${lint.stdout}${lint.stderr}`);
  }
});
