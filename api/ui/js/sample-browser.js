import { api } from './api-client.js';
import { h, replace } from './dom.js';
import { highlighted } from './highlight.js';

const PAGE = 10;
const KINDS = [
  ['documents', 'Accepted documents'],
  ['chats', 'Accepted chats'],
  ['rejected', 'Rejected'],
];
/** Fields shown above a sample's text: where it came from and why it was rejected. */
const FIELDS = ['stage', 'reason', 'rule', 'detail', 'fact', 'docType', 'idea', 'trait', 'category', 'model', 'task'];

/** The browser's state lives in the URL (?kind=&reason=&stage=&offset=), so a view can be linked to. */
export function readQuery() {
  const q = new URLSearchParams(location.search);
  return { kind: q.get('kind') ?? 'documents', reason: q.get('reason') ?? '', stage: q.get('stage') ?? '', offset: Number(q.get('offset') ?? 0) || 0 };
}

function writeQuery(query) {
  const q = new URLSearchParams();
  if (query.kind !== 'documents') q.set('kind', query.kind);
  if (query.reason) q.set('reason', query.reason);
  if (query.stage) q.set('stage', query.stage);
  if (query.offset) q.set('offset', String(query.offset));
  const search = q.toString();
  history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}`);
}

function fields(record) {
  const provenance = { ...record, ...(record.provenance ?? {}) };
  const rows = FIELDS.filter((f) => provenance[f] !== undefined && provenance[f] !== '').map((f) => [h('dt', null, f), h('dd', { 'data-field': f }, String(provenance[f]))]);
  return rows.length ? h('dl', { class: 'fields' }, rows) : null;
}

function body(record) {
  if (Array.isArray(record.messages)) {
    return h('div', { class: 'turns' }, record.messages.map((m) => h('div', { class: `turn ${m.role === 'user' ? 'user' : 'model'}` }, h('span', { class: 'role' }, m.role), h('p', { class: 'sample-text' }, String(m.content ?? '')))));
  }
  if (typeof record.text !== 'string') return h('p', { class: 'muted' }, '(no text: the rejection is of the task, not of a written sample)');
  const nodes = highlighted(record.text, record.span);
  const missing = record.span && nodes.length === 1;
  const box = h('p', { class: 'sample-text', 'data-testid': 'sample-text' }, nodes);
  // A long text scrolls in its box: open it at the span, once the box is laid out.
  if (!missing && record.span) requestAnimationFrame(() => (box.scrollTop = Math.max(0, nodes[1].offsetTop - box.clientHeight / 3)));
  return h(
    'div',
    null,
    box,
    missing ? h('p', { class: 'muted' }, 'matched span (not verbatim in the text): ', h('mark', { 'data-testid': 'span' }, record.span)) : null,
  );
}

function card(record) {
  return h(
    'article',
    { class: `sample ${record.reason ? 'rejected' : 'accepted'}`, 'data-testid': 'sample', 'data-id': String(record.id ?? '') },
    h('header', null, h('code', null, String(record.id ?? '')), record.reason ? h('span', { class: 'badge bad' }, String(record.reason)) : h('span', { class: 'badge good' }, 'accepted'), record.withheldAtEnd ? h('span', { class: 'badge' }, 'withheld at the end') : null),
    fields(record),
    body(record),
  );
}

/**
 * Accepted and rejected samples of a run, a page at a time, rejected ones narrowed by reason or
 * stage, each rejection's matched span highlighted.
 */
export function sampleBrowser(runId) {
  let reasons = [];
  const query = readQuery();
  const list = h('div', { class: 'samples', 'data-testid': 'samples' });
  const pager = h('div', { class: 'pager' });
  const filters = h('div', { class: 'filters' });

  const load = async () => {
    writeQuery(query);
    renderFilters();
    replace(list, h('p', { class: 'muted' }, 'Loading…'));
    const params = { kind: query.kind, offset: String(query.offset), limit: String(PAGE) };
    if (query.kind === 'rejected' && query.reason) params.reason = query.reason;
    if (query.kind === 'rejected' && query.stage) params.stage = query.stage;
    try {
      const page = await api.samples(runId, params);
      replace(list, page.samples.length ? page.samples.map(card) : h('p', { class: 'muted' }, 'No samples here.'));
      replace(
        pager,
        h('button', { type: 'button', disabled: query.offset === 0, onclick: () => ((query.offset = Math.max(0, query.offset - PAGE)), load()) }, '← Previous'),
        h('span', { class: 'muted', 'data-testid': 'page-range' }, page.samples.length ? `${query.offset + 1}–${query.offset + page.samples.length}` : ''),
        h('button', { type: 'button', disabled: page.nextOffset === null, 'data-testid': 'next-page', onclick: () => ((query.offset = page.nextOffset), load()) }, 'Next →'),
      );
    } catch (err) {
      replace(list, h('p', { class: 'error' }, err.message));
      replace(pager);
    }
  };

  const renderFilters = () => {
    const tabs = KINDS.map(([kind, label]) =>
      h('button', { type: 'button', class: kind === query.kind ? 'tab active' : 'tab', 'data-testid': `kind-${kind}`, onclick: () => Object.assign(query, { kind, reason: '', stage: '', offset: 0 }) && load() }, label),
    );
    const reasonSelect = h(
      'select',
      { 'data-testid': 'reason-filter', onchange: (e) => Object.assign(query, { reason: e.target.value, offset: 0 }) && load() },
      h('option', { value: '' }, 'any reason'),
      reasons.map((r) => h('option', { value: r, selected: r === query.reason }, r)),
    );
    replace(filters, tabs, query.kind === 'rejected' ? h('label', null, 'Reason ', reasonSelect) : null, query.kind === 'rejected' && query.stage ? h('span', { class: 'muted' }, ` stage ${query.stage}`) : null);
  };

  const section = h('section', { id: 'samples', class: 'panel' }, h('h2', null, 'Samples'), filters, list, pager);
  load();
  /** The reasons the filter offers: those of the run's rejection counters. */
  section.setReasons = (next) => {
    if (next.join('\n') === reasons.join('\n')) return;
    reasons = next;
    renderFilters();
  };
  /** Shows the rejections of one reason (and stage), as the breakdown's links ask. */
  section.showRejected = (reason, stage) => {
    Object.assign(query, { kind: 'rejected', reason, stage: stage ?? '', offset: 0 });
    load();
    section.scrollIntoView();
  };
  return section;
}
