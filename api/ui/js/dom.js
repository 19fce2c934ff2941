/**
 * The only way the page builds DOM: elements from tag + properties + children, where every string
 * child becomes a text node. Nothing is ever parsed as HTML, so text from a record (which may hold
 * `<script>`) is shown as the characters it is.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function fmtInt(n) {
  return integer.format(n ?? 0);
}

/** USD with enough digits that a simulator run's fractions of a cent still show. */
export function fmtUsd(usd) {
  const v = usd ?? 0;
  if (v === 0) return '$0.00';
  return `$${v.toFixed(v < 0.01 ? 6 : v < 1 ? 4 : 2)}`;
}

export function fmtPct(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '–';
}

export function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString('en-GB', { hour12: false }) : '–';
}

/** Minutes a run has worked: from its start to its end, or to now while it runs. */
export function elapsedMinutes(run) {
  if (!run.startedAt) return 0;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return Math.max(0, (end - Date.parse(run.startedAt)) / 60_000);
}

export function table(headers, rows, props = {}) {
  return h('table', props, h('thead', null, h('tr', null, headers.map((x) => h('th', null, x)))), h('tbody', null, rows));
}
