import type { ResolvedFilterSpec } from './filter-spec.js';

/**
 * Named chat patterns: habits the seed's audit found in over 20% of chat replies, detected by
 * name and capped like any corpus feature (`filters.corpus.maxShare`), so a run keeps some of
 * them (a direct answer first is often right) but never a habit of them. Each is a built-in:
 * `filters.builtins: {"bottom-line-opening": false}` turns its detection off.
 *
 * Both look only at the reply's head (its first 300 characters, markdown emphasis and heading
 * marks aside), and their expressions are anchored there, so a reply costs one short match each.
 */
export interface ChatPattern {
  name: string;
  /** Its ceiling's key in `filters.corpus.maxShare`. */
  shareKey: 'bottomLineOpenings' | 'validationPreambles';
  description: string;
  /** The matched span, or null. */
  detect(head: string): string | null;
}

/** Leading markdown a reply may open with ("**", "## ", "> "), skipped before matching. */
const LEAD = /^[\s*_#>]*/;

/**
 * An answer-first "bottom line up front" opening, as the first sentence: a verdict label
 * ("Bottom line:", "Short answer:", "The short answer is", "Quick answer:", "TL;DR", "Long story
 * short,", "In short,", "In a nutshell,") or a bare "Yes"/"No" set off by a dash, colon, comma or
 * full stop ("Yes — but…", "No. …"). Not "Briefly" or "The short version on…", which open a topic
 * rather than give a verdict.
 */
const BOTTOM_LINE =
  /^(?:(?:the\s+)?bottom[\s-]line\b|(?:the\s+)?(?:short|quick|brief|simple)\s+answer(?:\s+is\b|\s*[:,—–-])|tl;?\s?dr\b|long story short\b|in (?:short|a nutshell|sum)\s*[,:—–]|(?:yes|no)(?:\s*[—–]|\s+-\s|\s*--|[,:.!](?=\s)))/i;

/**
 * An emotional-validation preamble before the answer, in the first two sentences: praise of the
 * question ("That's a great question", "Great question!", "What a thoughtful question"), or
 * validation of the asker's feelings ("It's completely understandable that…", "It's totally valid
 * to…", "It's perfectly normal to feel…", "I understand how you feel", "I hear you", "Your
 * feelings are valid", "I'm sorry you're going through…").
 */
const VALIDATION =
  /(?:^|[.!?]\s+)(?:(?:that's|that is|what|such)\s+(?:a\s+)?(?:really\s+|very\s+)?(?:great|excellent|good|fantastic|wonderful|thoughtful|insightful|fair and important)\s+question|(?:really\s+|very\s+)?(?:great|excellent|good|fantastic|wonderful|thoughtful)\s+question\b|(?:it's|it is)\s+(?:completely|totally|perfectly|entirely|absolutely|so|very)?\s*(?:understandable|valid|normal|natural|okay|ok)\s+(?:that|to|if|you)\b|i\s+(?:completely\s+|totally\s+|really\s+)?understand\s+(?:how\s+you(?:'re)?\s+feel|your\s+(?:concern|frustration|worry|worries|feelings)|why\s+you(?:'d|\s+would)?\s+(?:feel|be|worry))|i\s+hear\s+you\b|your\s+(?:feelings|concerns?|worries)\s+(?:are|is)\s+(?:completely\s+|totally\s+)?valid|i'm\s+(?:so\s+)?sorry\s+(?:you're|you\s+are)\s+(?:going\s+through|dealing\s+with|feeling))/i;

/** The reply's first `n` sentences (a sentence ends at . ! ? or a line break after some text), or the head. */
function firstSentences(head: string, n: number): string {
  let seen = 0;
  let inSentence = false;
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    const end = c === 46 || c === 33 || c === 63 || c === 10;
    if (end && inSentence && (c === 10 || i + 1 === head.length || head.charCodeAt(i + 1) <= 32)) {
      inSentence = false;
      if (++seen === n) return head.slice(0, i + 1);
    } else if (!end && c > 32) inSentence = true;
  }
  return head;
}

export const CHAT_PATTERNS: readonly ChatPattern[] = [
  {
    name: 'bottom-line-opening',
    shareKey: 'bottomLineOpenings',
    description: 'An answer-first verdict as the first sentence ("Bottom line:", "Short answer:", "TL;DR", "In short,", "Yes —").',
    detect: (head) => BOTTOM_LINE.exec(head)?.[0] ?? null,
  },
  {
    name: 'validation-preamble',
    shareKey: 'validationPreambles',
    description: 'Emotional validation before the answer ("That\'s a great question", "It\'s completely understandable that…", "I understand how you feel").',
    detect: (head) => {
      const match = VALIDATION.exec(firstSentences(head, 2));
      return match ? match[0].replace(/^[.!?]\s+/, '') : null;
    },
  },
];

export interface CarriedChatPattern {
  name: string;
  span: string;
  /** Its ceiling: the share of accepted chats that may carry it (1: counted, not capped). */
  share: number;
}

/** The named chat patterns a reply carries, of those the spec leaves on. */
export function chatPatternsIn(text: string, spec: ResolvedFilterSpec): CarriedChatPattern[] {
  const head = text.slice(0, 300).replace(LEAD, '');
  const carried: CarriedChatPattern[] = [];
  for (const pattern of CHAT_PATTERNS) {
    if (spec.builtins[pattern.name] === false) continue;
    const span = pattern.detect(head);
    if (span !== null) carried.push({ name: pattern.name, span: span.slice(0, 200), share: spec.corpus.maxShare[pattern.shareKey] });
  }
  return carried;
}
