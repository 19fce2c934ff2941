import { fmtInt, h, table } from './dom.js';

const pct = (x) => `${(100 * x).toFixed(1)}%`;

function auditSection(title, kind, report) {
  if (!report) return h('p', { class: 'muted' }, `${title}: no LLM audit yet.`);
  const rows = (report.patterns ?? []).map((p) =>
    h(
      'tr',
      { class: p.active ? 'active' : '', 'data-testid': `audit-${kind}-${p.name}` },
      h('th', { scope: 'row' }, p.name),
      h('td', null, p.definition),
      h('td', { class: 'num', 'data-testid': 'prevalence' }, `${pct(p.prevalence)} (${pct(p.ci[0])}–${pct(p.ci[1])})`),
      h('td', { class: 'num' }, fmtInt(p.carriers)),
      h('td', null, p.marker ?? '–'),
      h('td', { 'data-testid': 'audit-state' }, p.active ? 'active' : 'reported'),
    ),
  );
  return h(
    'div',
    null,
    h('h3', null, `${title}: LLM audit of ${fmtInt(report.sampled)} samples (ceiling ${pct(report.maxPrevalence)})`),
    rows.length ? table(['pattern', 'definition', 'prevalence (95% CI)', 'carriers', 'marker', 'state'], rows) : h('p', { class: 'muted' }, 'No patterns found.'),
  );
}

function corpusSection(title, kind, corpus, ceilings) {
  const rows = (corpus?.top ?? []).slice(0, 12).map((f) => {
    const ceiling = ceilings?.[`${f.family}s`]; // families are singular (opening), ceilings plural (openings)
    return h('tr', { class: ceiling !== undefined && f.share > ceiling ? 'over' : '', 'data-testid': `corpus-${kind}` }, h('td', null, f.family), h('td', null, f.label), h('td', { class: 'num' }, fmtInt(f.count)), h('td', { class: 'num' }, pct(f.share)), h('td', { class: 'num' }, ceiling !== undefined ? pct(ceiling) : '–'));
  });
  return h('div', null, h('h3', null, `${title}: most frequent features of ${fmtInt(corpus?.accepted ?? 0)} accepted`), rows.length ? table(['family', 'feature', 'count', 'share', 'ceiling'], rows) : h('p', { class: 'muted' }, 'None yet.'));
}

/** GET /v1/runs/:id/patterns as tables: the LLM audit per kind and the corpus's top features. */
export function patternReport(report) {
  return h(
    'div',
    { 'data-testid': 'patterns' },
    auditSection('Documents', 'documents', report.audit.documents),
    auditSection('Chats', 'chats', report.audit.chats),
    corpusSection('Documents', 'documents', report.corpus.documents, report.ceilings),
    corpusSection('Chats', 'chats', report.corpus.chats, report.ceilings),
  );
}
