import { access, api } from './api-client.js';
import { fmtInt, fmtTime, fmtUsd, h, replace } from './dom.js';
import { patternReport } from './pattern-report.js';
import { progressBar, rejectionsTable, spendByModel, stagesTable } from './run-tables.js';
import { sampleBrowser } from './sample-browser.js';

const ENDED = ['completed', 'cancelled', 'failed', 'budget_exhausted'];
const FINAL = ['completed', 'cancelled', 'failed'];
const REFRESH_MS = 3000;
const EXPORT_FORMATS = { documents: ['raw', 'text'], chats: ['raw', 'messages', 'gemini'], rejected: ['raw'] };

function figure(label, value, testid) {
  return h('div', { class: 'figure' }, h('div', { class: 'value', 'data-testid': testid }, value), h('div', { class: 'label' }, label));
}

function totals(status, stage) {
  const s = status.stages[stage];
  return s ? { accepted: s.accepted, rejected: s.rejected } : { accepted: 0, rejected: 0 };
}

function summary(status) {
  const docs = totals(status, 'documents');
  const chats = totals(status, 'chat-responses');
  return h(
    'div',
    { class: 'figures' },
    figure('documents accepted', fmtInt(docs.accepted), 'documents-accepted'),
    figure('documents rejected', fmtInt(docs.rejected), 'documents-rejected'),
    figure('chats accepted', fmtInt(chats.accepted), 'chats-accepted'),
    figure('chats rejected', fmtInt(chats.rejected), 'chats-rejected'),
    figure('spent', fmtUsd(status.costUsd), 'spend'),
    figure('projected at the end', status.projection ? fmtUsd(status.projection.projectedUsd) : '–', 'projected'),
    status.budget ? figure('budget', fmtUsd(status.budget.usd), 'budget') : null,
    figure('model calls', fmtInt(status.calls), 'calls'),
    figure('cache hits', fmtInt(status.cache?.hits), 'cache-hits'),
    figure('dead letters', fmtInt(status.deadLetters), 'dead-letters'),
  );
}

/** Cancel and export: offered once the farm has accepted this tab's token (or needs none). */
function actions(status, refresh) {
  const message = h('span', { class: 'action-message', 'data-testid': 'action-message' });
  const denied = !access.canAct;
  const cancel = h('button', { type: 'button', class: 'danger', 'data-testid': 'cancel', disabled: denied || FINAL.includes(status.state), title: denied ? 'needs a token with the submit role' : 'stop the run' }, 'Cancel run');
  cancel.addEventListener('click', async () => {
    if (!confirm(`Cancel run ${status.name || status.id}?`)) return;
    try {
      const result = await api.cancel(status.id);
      replace(message, result.cancelled ? 'Cancelled.' : `Not cancelled: the run is ${result.state}.`);
      refresh();
    } catch (err) {
      replace(message, h('span', { class: 'error' }, err.message));
    }
  });
  const kind = h('select', { 'data-testid': 'export-kind' }, Object.keys(EXPORT_FORMATS).map((k) => h('option', { value: k }, k)));
  const format = h('select', { 'data-testid': 'export-format' });
  const fillFormats = () => replace(format, EXPORT_FORMATS[kind.value].map((f) => h('option', { value: f }, f)));
  kind.addEventListener('change', fillFormats);
  fillFormats();
  const exportButton = h('button', { type: 'button', 'data-testid': 'export', disabled: denied, title: denied ? 'needs a token with the read role' : 'download NDJSON' }, 'Export');
  exportButton.addEventListener('click', async () => {
    try {
      // Through fetch with the token, then saved: a plain link could not send the Authorization header.
      const blob = await api.exportFile(status.id, kind.value, format.value);
      const link = h('a', { href: URL.createObjectURL(blob), download: `${status.id}-${kind.value}-${format.value}.jsonl` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      replace(message, `Exported ${kind.value} (${format.value}).`);
    } catch (err) {
      replace(message, h('span', { class: 'error' }, err.message));
    }
  });
  return h('div', { class: 'actions' }, cancel, h('span', { class: 'spacer' }), kind, format, exportButton, message, denied ? h('span', { class: 'muted' }, ' (enter a token above to act)') : null);
}

function header(status) {
  return h(
    'div',
    { class: 'run-head' },
    h('h1', null, status.name || status.id, ' ', h('span', { class: `state ${status.state}`, 'data-testid': 'run-state' }, status.state)),
    h('p', { class: 'muted' }, h('code', null, status.id), ` · created ${fmtTime(status.createdAt)} · started ${fmtTime(status.startedAt)} · finished ${fmtTime(status.finishedAt)}`),
    status.error ? h('p', { class: 'error' }, status.error) : null,
    status.quota ? h('p', { class: 'error' }, status.quota) : null,
    progressBar(status),
  );
}

/** One run: its figures, per-stage table, spend, rejections, pattern report and samples. */
export async function runView(root, id) {
  const live = h('div', { 'data-testid': 'run-live' });
  const patterns = h('section', { class: 'panel' }, h('h2', null, 'Pattern report'), h('p', { class: 'muted' }, 'Loading…'));
  const browser = sampleBrowser(id);
  let timer;

  const refresh = async () => {
    clearTimeout(timer);
    try {
      const [status, report] = await Promise.all([api.run(id), api.patterns(id)]);
      browser.setReasons([...new Set(Object.values(status.stages).flatMap((s) => Object.keys(s.rejectedByReason ?? {})))].sort());
      replace(
        live,
        header(status),
        actions(status, refresh),
        summary(status),
        h('section', { class: 'panel' }, h('h2', null, 'Stages'), stagesTable(status)),
        h('section', { class: 'panel' }, h('h2', null, 'Spend by model'), spendByModel(status) ?? h('p', { class: 'muted' }, 'No calls yet.')),
        h('section', { class: 'panel' }, h('h2', null, 'Rejections by reason'), rejectionsTable(status, (reason, stage) => browser.showRejected(reason, stage))),
      );
      replace(patterns, h('h2', null, 'Pattern report'), patternReport(report));
      document.title = `${status.name || status.id} · sdf-farm`;
      if (!ENDED.includes(status.state)) timer = setTimeout(refresh, REFRESH_MS);
    } catch (err) {
      replace(live, h('p', { class: 'error', 'data-testid': 'error' }, err.message));
    }
  };
  replace(root, h('p', null, h('a', { href: '/ui' }, '← all runs')), live, patterns, browser);
  await refresh();
  return () => clearTimeout(timer);
}
