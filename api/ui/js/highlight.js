import { h } from './dom.js';

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where a rejection's matched span sits in its text, as [start, end): the verbatim span first (a
 * rule's match), else the same words ignoring case and spacing (corpus features are reported
 * normalised). Null when the text does not hold it (a span such as "finishReason MAX_TOKENS").
 */
export function findSpan(text, span) {
  if (!text || !span) return null;
  const at = text.indexOf(span);
  if (at >= 0) return [at, at + span.length];
  const words = span.trim().split(/\s+/).filter(Boolean).map(escapeRegExp);
  if (words.length === 0) return null;
  const match = new RegExp(words.join('[\\s\\W]+'), 'i').exec(text);
  return match ? [match.index, match.index + match[0].length] : null;
}

/** The text as nodes, the span (when found) wrapped in <mark>; all of it as text, never as HTML. */
export function highlighted(text, span) {
  const at = findSpan(text, span);
  if (!at) return [text];
  return [text.slice(0, at[0]), h('mark', { 'data-testid': 'span' }, text.slice(at[0], at[1])), text.slice(at[1])];
}
