import { elapsedMinutes, fmtInt, fmtPct, fmtUsd, h, table } from './dom.js';

/** Stages in pipeline order; a run shows those it has. */
const STAGE_ORDER = ['facts', 'doc-types', 'doc-ideas', 'documents', 'revise', 'traits', 'chat-prompts', 'chat-responses'];

export function stagesOf(status) {
  const known = Object.keys(status.stages ?? {});
  return [...STAGE_ORDER.filter((s) => known.includes(s)), ...known.filter((s) => !STAGE_ORDER.includes(s))];
}

/** Tasks done of the tasks known so far (stages not yet fanned out add theirs later). */
export function progressOf(status) {
  let done = 0;
  let known = 0;
  for (const s of Object.values(status.stages ?? {})) {
    done += s.done;
    known += s.done + s.queued + s.active;
  }
  return { done, known };
}

export function progressBar(status) {
  const { done, known } = progressOf(status);
  const share = known > 0 ? done / known : 0;
  const bar = h('div', { class: 'bar' });
  // Through the CSSOM: the page's content policy refuses inline style attributes.
  bar.style.width = `${(share * 100).toFixed(1)}%`;
  return h('div', { class: 'progress', title: `${done} of ${known} tasks known so far`, 'data-testid': 'progress' }, bar, h('span', null, `${fmtInt(done)} / ${fmtInt(known)}`));
}

const cell = (stage, field, value, text = fmtInt(value)) => h('td', { class: 'num', 'data-testid': `stage-${stage}-${field}` }, text);

/** Per stage: progress, outcomes, rates (acceptance, tasks per minute over the run) and spend. */
export function stagesTable(status) {
  const minutes = elapsedMinutes(status);
  const rows = stagesOf(status).map((stage) => {
    const s = status.stages[stage];
    const spend = status.spend?.stages?.[stage] ?? { calls: 0, usd: 0 };
    return h(
      'tr',
      { 'data-testid': `stage-${stage}` },
      h('th', { scope: 'row' }, stage),
      cell(stage, 'done', s.done),
      cell(stage, 'queued', s.queued),
      cell(stage, 'active', s.active),
      cell(stage, 'accepted', s.accepted),
      cell(stage, 'rejected', s.rejected),
      cell(stage, 'failed', s.failed),
      cell(stage, 'items', s.items),
      cell(stage, 'acceptance', 0, fmtPct(s.accepted, s.done)),
      cell(stage, 'rate', 0, minutes > 0 ? (s.done / minutes).toFixed(1) : '–'),
      cell(stage, 'calls', spend.calls),
      cell(stage, 'usd', 0, fmtUsd(spend.usd)),
    );
  });
  return table(['stage', 'done', 'queued', 'active', 'accepted', 'rejected', 'failed', 'items out', 'accepted %', 'tasks/min', 'calls', 'spend'], rows, { class: 'stages', 'data-testid': 'stages' });
}

export function spendByModel(status) {
  const models = Object.entries(status.spend?.models ?? {});
  if (models.length === 0) return null;
  const rows = models.map(([model, m]) =>
    h('tr', null, h('th', { scope: 'row' }, model), h('td', { class: 'num' }, fmtInt(m.calls)), h('td', { class: 'num' }, fmtInt(m.tokens.prompt)), h('td', { class: 'num' }, fmtInt(m.tokens.cached)), h('td', { class: 'num' }, fmtInt(m.tokens.output)), h('td', { class: 'num' }, m.unpricedCalls ? 'unpriced' : fmtUsd(m.usd))),
  );
  return table(['model', 'calls', 'prompt tokens', 'cached', 'output tokens', 'spend'], rows);
}

/** Rejections by stage and reason, each a link to those samples in the browser. */
export function rejectionsTable(status, onPick) {
  const rows = [];
  for (const stage of stagesOf(status)) {
    const reasons = Object.entries(status.stages[stage].rejectedByReason ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    for (const [reason, n] of reasons) {
      rows.push(
        h(
          'tr',
          { 'data-testid': `reason-${stage}-${reason}` },
          h('td', null, stage),
          h('td', null, h('a', { href: `?kind=rejected&reason=${encodeURIComponent(reason)}&stage=${encodeURIComponent(stage)}#samples`, 'data-testid': 'reason-link', onclick: (e) => (e.preventDefault(), onPick(reason, stage)) }, reason)),
          h('td', { class: 'num', 'data-testid': 'reason-count' }, fmtInt(n)),
        ),
      );
    }
  }
  return rows.length ? table(['stage', 'reason', 'rejections'], rows, { 'data-testid': 'rejections' }) : h('p', { class: 'muted' }, 'No rejections.');
}
