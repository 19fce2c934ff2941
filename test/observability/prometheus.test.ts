import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT, startTestFarm } from '../helpers/farm.js';
import { alertExpressions, dashboardExpressions, DASHBOARDS, expand, jobMatchers, readDashboard, selectorsOf } from '../helpers/promql.js';
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

/**
 * The same farm as two Prometheus setups see it. `operator`: what the Prometheus Operator makes of
 * the shipped ServiceMonitor (jobs named after the Services, a `namespace` label). `plain`: a
 * hand-written config with jobs named anything and no namespace (docker-compose). A dashboard
 * variable left at All is `.*`, which also matches a missing label.
 */
const VIEWS = {
  operator: { namespace: 'sdf-farm', job: 'sdf-api|sdf-worker-metrics', jobs: { serve: 'sdf-api', worker: 'sdf-worker-metrics' }, labels: { namespace: 'sdf-farm' } },
  plain: { namespace: '', job: '.*', jobs: { serve: 'farm-serve', worker: 'farm-workers' }, labels: {} },
} as const;

/** The KEDA trigger of the example overlay and the HPA overlay's adapter rule, as shipped. */
function scalerQueries(): { keda: string; adapter: string } {
  const built = runTool('kubectl', ['kustomize', 'deploy/k8s/overlays/example'], { cwd: REPO_ROOT });
  if (built.status !== 0) throw new Error(built.stderr);
  const scaled = parseAllDocuments(built.stdout)
    .map((d) => d.toJS() as { kind: string; spec: { triggers: { metadata: { query: string } }[] } })
    .find((m) => m.kind === 'ScaledObject')!;
  const values = parse(readFileSync(join(REPO_ROOT, 'deploy/k8s/overlays/hpa/prometheus-adapter-values.yaml'), 'utf8')) as {
    rules: { external: { seriesQuery: string; metricsQuery: string }[] };
  };
  const rule = values.rules.external[0]!;
  // What prometheus-adapter sends for the HPA in namespace sdf-farm.
  const adapter = rule.metricsQuery
    .replace('<<.Series>>', /^\w+/.exec(rule.seriesQuery)![0])
    .replace('<<.LabelMatchers>>', 'namespace="sdf-farm"')
    .replace('<<.GroupBy>>', 'namespace');
  return { keda: scaled.spec.triggers[0]!.metadata.query, adapter };
}

t.test('no panel, alert or scaler depends on a scrape job name', async (t) => {
  for (const { where, expr } of dashboardExpressions()) {
    t.ok(jobMatchers(expr).every((m) => m === 'job=~"$job"'), `${where}: job only through $job: ${jobMatchers(expr).join(' ')}`);
    for (const selector of selectorsOf(expr)) t.ok(selector.includes('namespace=~"$namespace"') && selector.includes('job=~"$job"'), `${where}: ${selector} is narrowed by $namespace and $job`);
    t.notOk(selectorsOf(expr).some((s) => s.startsWith('up')), `${where}: no \`up\` (its job name is the setup's)`);
  }
  for (const file of DASHBOARDS) {
    const variables = readDashboard(file).templating.list;
    for (const name of ['namespace', 'job']) t.match(variables.find((v) => v.name === name), { type: 'query', includeAll: true, allValue: '.*' }, `${file}: $${name}`);
  }
  const { keda, adapter } = scalerQueries();
  for (const { alert, expr } of [...alertExpressions(), { alert: 'KEDA trigger', expr: keda }, { alert: 'adapter rule', expr: adapter }]) {
    t.same(jobMatchers(expr), [], `${alert}: no job matcher`);
    t.notOk(selectorsOf(expr).some((s) => s.startsWith('up')), `${alert}: no \`up\``);
  }
});

t.test('a real Prometheus scrapes a farm running a spec; every dashboard query, alert and scaler query works on what the farm exports', async (t) => {
  const farm = await startTestFarm(t, { sim: { errorRate429: 0.05, safetyRate: 0.05, latencyMs: 20 } });
  const workerPort = await freePort();
  const worker = await farm.spawnWorker({ WORKER_METRICS_PORT: String(workerPort), WORKER_CONCURRENCY: '8' });
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  await until('worker metrics', async () => ((await fetch(`${workerUrl}/readyz`)).ok ? true : undefined));

  const dir = mkdtempSync(join(tmpdir(), 'sdf-prom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(REPO_ROOT, 'dashboards/alerts.yml'), join(dir, 'alerts.yml'));
  const hostOf = (url: string) => url.replace(/^http:\/\//, '');
  const job = (name: string, url: string, labels: Record<string, string>) =>
    `  - { job_name: ${name}, static_configs: [{ targets: ['${hostOf(url)}'], labels: ${JSON.stringify(labels)} }] }`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      ...Object.values(VIEWS).flatMap((v) => [job(v.jobs.serve, farm.apiUrl, v.labels), job(v.jobs.worker, workerUrl, v.labels)]),
      job('sdf-sim', farm.simUrl, {}),
    ].join('\n'),
  );
  t.equal(runTool('promtool', ['check', 'config', join(dir, 'prometheus.yml')]).status, 0, 'promtool accepts the config');
  const promPort = await freePort();
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  t.teardown(() => void prometheus.kill('SIGKILL'));
  const prom = `http://127.0.0.1:${promPort}`;
  await until('prometheus ready', async () => ((await fetch(`${prom}/-/ready`)).ok ? true : undefined));

  const spec = {
    universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    traits: ['Aster admits uncertainty.'],
    documents: { docTypesPerFact: 2, ideasPerType: 4, docsPerIdea: 4 },
    chats: { promptsPerTrait: 10 },
    limits: { 'gemini-2.5-flash': { rpm: 6000, tpm: 10_000_000 }, 'gemini-2.5-pro': { rpm: 6000 } },
  };
  const runId = await farm.submit(spec);
  t.equal((await farm.waitFor(runId, undefined, 120_000)).state, 'completed');

  const query = async (expr: string) => {
    const res = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
    if (res.status !== 'success') throw new Error(`${expr}: ${res.error}`);
    return res.data!.result;
  };
  const scalar = async (expr: string) => Number((await query(expr))[0]?.value[1] ?? NaN);
  // Wait until the scrapes after the run are in, so rates over the last minute see the run.
  await until('all targets scraped', async () => ((await scalar('count(up == 1)')) === 5 ? true : undefined));
  await new Promise((r) => setTimeout(r, 4000));

  for (const [name, view] of Object.entries(VIEWS)) {
    for (const { where, expr } of dashboardExpressions()) {
      const result = await query(expand(expr, view));
      t.ok(result.length > 0, `${name}: ${where}: returns data`);
    }
    const workersUp = dashboardExpressions().find((e) => e.where.endsWith('Workers up and calls in flight'))!.expr;
    t.equal(await scalar(expand(workersUp, view)), 1, `${name}: one worker up`);
  }
  // The variables' own queries: Grafana's label_values(selector, label) is the series API.
  for (const file of DASHBOARDS) {
    for (const variable of readDashboard(file).templating.list.filter((v) => v.type === 'query')) {
      const text = typeof variable.query === 'string' ? variable.query : variable.query!.query;
      const [, selector, label] = /^label_values\((.+), (\w+)\)$/.exec(text)!;
      const res = (await (await fetch(`${prom}/api/v1/series?match[]=${encodeURIComponent(expand(selector!, { namespace: '.*', job: '.*' }))}`)).json()) as { data: Record<string, string>[] };
      const values = [...new Set(res.data.map((s) => s[label!]).filter(Boolean))].sort();
      const expected = label === 'namespace' ? ['sdf-farm'] : [...Object.values(VIEWS).flatMap((v) => Object.values(v.jobs))].sort();
      t.same(values, expected, `${file}: $${variable.name} offers ${expected.join(', ')}`);
    }
  }
  for (const { alert, expr } of alertExpressions()) {
    for (const selector of selectorsOf(expr)) t.ok((await query(`count(${selector})`)).length > 0, `${alert}: ${selector} matches series the farm exports`);
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

  // No worker and work waiting: the alert that used `up{job="sdf-worker"}` fires in both setups,
  // and both scalers see the backlog they scale on.
  worker.kill('SIGKILL');
  await farm.submit({ ...spec, name: 'no-workers' });
  const noWorkers = alertExpressions().find((a) => a.alert === 'SdfNoWorkers')!.expr;
  const firing = await until('SdfNoWorkers condition', async () => {
    const result = await query(noWorkers);
    return result.length === 2 ? result : undefined;
  });
  t.same(firing.map((r) => r.metric.namespace ?? '').sort(), ['', 'sdf-farm'], 'SdfNoWorkers holds for the farm in each setup');
  const { keda, adapter } = scalerQueries();
  const backlog = await scalar(keda);
  t.ok(backlog > 0, `the KEDA trigger sees the backlog: ${backlog} tasks`);
  t.equal(await scalar(adapter), backlog, 'the HPA adapter rule serves the same backlog');
});
