import { api } from './api-client.js';
import { fmtInt, fmtTime, fmtUsd, h, replace } from './dom.js';
import { progressBar } from './run-tables.js';

const REFRESH_MS = 5000;

function row(run) {
  const docs = run.stages.documents?.accepted ?? 0;
  const chats = run.stages['chat-responses']?.accepted ?? 0;
  return h(
    'tr',
    { 'data-testid': 'run-row', 'data-id': run.id },
    h('td', null, h('a', { href: `/ui/runs/${encodeURIComponent(run.id)}`, 'data-testid': 'run-link' }, run.name || run.id)),
    h('td', null, h('span', { class: `state ${run.state}`, 'data-testid': 'run-state' }, run.state)),
    h('td', null, progressBar(run)),
    h('td', { class: 'num', 'data-testid': 'run-documents' }, fmtInt(docs)),
    h('td', { class: 'num', 'data-testid': 'run-chats' }, fmtInt(chats)),
    h('td', { class: 'num', 'data-testid': 'run-spend' }, fmtUsd(run.costUsd)),
    h('td', null, fmtTime(run.createdAt)),
    h('td', null, h('code', null, run.id)),
  );
}

/** Every run (newest first) with its state and progress, refreshed while the page is open. */
export async function runsList(root) {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('h1', null, 'Runs'), body);
  let timer;
  const refresh = async () => {
    try {
      const { runs } = await api.runs();
      replace(
        body,
        runs.length === 0
          ? h('p', { class: 'muted' }, 'No runs yet. Submit one with `sdf-farm submit spec.yaml` or POST /v1/runs.')
          : h('table', { 'data-testid': 'runs' }, h('thead', null, h('tr', null, ['name', 'state', 'tasks done', 'documents', 'chats', 'spent', 'created', 'id'].map((x) => h('th', null, x)))), h('tbody', null, runs.map(row))),
      );
    } catch (err) {
      replace(body, h('p', { class: 'error', 'data-testid': 'error' }, err.status === 401 ? `${err.message}. This farm needs an API token: enter it above.` : err.message));
    }
    timer = setTimeout(refresh, REFRESH_MS);
  };
  await refresh();
  return () => clearTimeout(timer);
}
