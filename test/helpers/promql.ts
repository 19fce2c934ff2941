import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './farm.js';

export const DASHBOARDS = ['farm-overview.json', 'model-quotas.json'];

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; type: string; query?: string | { query: string }; allValue?: string; includeAll?: boolean }[] };
}

export function readDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards/grafana', file), 'utf8')) as Dashboard;
}

/** Every PromQL expression of every dashboard panel, as written (Grafana variables unexpanded). */
export function dashboardExpressions(): { where: string; expr: string }[] {
  return DASHBOARDS.flatMap((file) => readDashboard(file).panels.flatMap((panel) => panel.targets.map((target) => ({ where: `${file} / ${panel.title}`, expr: target.expr }))));
}

/** Every alert rule's expression. */
export function alertExpressions(): { alert: string; expr: string }[] {
  const rules = parse(readFileSync(join(REPO_ROOT, 'dashboards/alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: r.expr.trim() })));
}

/** What Grafana sends for `$namespace`, `$job` and `$__rate_interval`, as Grafana expands them. */
export function expand(expr: string, values: { namespace: string; job: string }): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', values.namespace).replaceAll('$job', values.job);
}

/** The vector selectors of an expression (`sdf_x{a="b"}`), each a query of its own. */
export function selectorsOf(expr: string): string[] {
  return [...expr.matchAll(/\b((?:sdf_|up\b)[a-z0-9_]*)(\{[^}]*\})?/g)].map((m) => `${m[1]}${m[2] ?? ''}`);
}

/** The label matchers on `job` in an expression: `job="x"`, `job=~"$job"`… */
export function jobMatchers(expr: string): string[] {
  return [...expr.matchAll(/\bjob\s*(=~|!~|!=|=)\s*"[^"]*"/g)].map((m) => m[0]);
}
