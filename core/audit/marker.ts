/**
 * An audit marker is model-written text that becomes a filter run on every item of a run, so it
 * is never compiled as a regular expression: a model can write one that backtracks for minutes
 * (`(a+)+$`) or means something else than it reads (`[Name]` is a character class matching
 * almost any text). A marker is one or more literal phrases separated by `|`; regex escapes and
 * anchors a model adds out of habit are dropped. Matching is case-insensitive and built only from
 * escaped literals, so its cost is linear in the text whatever the marker says.
 */

/** Shorter phrases match too much to identify anything. */
const MIN_PHRASE = 3;
/** Bounds the work one marker can cost per item. */
const MAX_PHRASES = 20;
const MAX_PHRASE_LENGTH = 200;

/** The literal phrases of a marker, deduplicated, in the order given. */
export function markerPhrases(marker: string): string[] {
  const phrases = marker
    .split('|')
    .map((p) =>
      p
        .trim()
        .replace(/^\^+/, '')
        .replace(/\$+$/, '')
        // `Dr\. Sarah Chen` means the literal `Dr. Sarah Chen`.
        .replace(/\\([^\w\s])/g, '$1')
        .trim(),
    )
    .filter((p) => p.length >= MIN_PHRASE && p.length <= MAX_PHRASE_LENGTH);
  return [...new Set(phrases.map((p) => p.toLowerCase()))].slice(0, MAX_PHRASES).map((lower) => phrases.find((p) => p.toLowerCase() === lower)!);
}

/** Phrases joined back into the marker form stored in a report. */
export function joinPhrases(phrases: string[]): string {
  return phrases.join('|');
}

const NEVER = /(?!)/;

/** A marker as a RegExp of escaped literal alternatives (no quantifiers, so no backtracking blow-up). */
export function markerRegex(marker: string): RegExp {
  const phrases = markerPhrases(marker);
  if (phrases.length === 0) return NEVER;
  return new RegExp(phrases.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'i');
}
