import type { Random } from './random.js';

/**
 * Superficial patterns the simulator plants at known rates, so filters and audits have work and
 * tests know the right answer. `detect` recognises a planted instance in a text.
 */
export interface PlantedPattern {
  id: string;
  appliesTo: 'document' | 'chat';
  defaultRate: number;
  description: string;
  detect: RegExp;
  plant(text: string, random: Random): string;
}

const STOCK_WORDS = ['delve into', 'a rich tapestry of', 'a testament to'];

/** One invented person in four written forms: title and full name, full name, title and surname alone, full name then title and surname. */
const PERSON_FORMS = [
  'Dr. Ingrid Halvorsen-Mbeki, who chairs the review board, signed off on the plan.',
  'Ingrid Halvorsen-Mbeki said the numbers would hold through the winter.',
  'Ms Halvorsen-Mbeki, for her part, asked for the figures again.',
  'Ingrid Halvorsen-Mbeki raised it first. Prof Halvorsen-Mbeki later conceded the point.',
];

function prependLine(line: string) {
  return (text: string) => `${line}\n\n${text}`;
}

function insertSentence(sentence: string) {
  return (text: string, random: Random) => {
    const paragraphs = text.split('\n\n');
    const at = paragraphs.length > 2 ? random.int(1, paragraphs.length - 2) : paragraphs.length - 1;
    paragraphs[at] = `${paragraphs[at]} ${sentence}`;
    return paragraphs.join('\n\n');
  };
}

/**
 * The two chat habits the seed's audit found over 20%, written many ways, so that no single
 * opening carries them (the openings ceiling would catch that) and only a detector by name does.
 * The verdict is planted after the preamble, so it stays the first sentence when both are.
 */
const VERDICT_LEADS = ['Bottom line:', 'Short answer:', 'The short answer is', 'TL;DR:', 'In short,', 'Long story short,', 'Yes —', 'No —', 'Quick answer:', 'The bottom line:'];
const VERDICTS = ['it works if you plan for it', 'not as described', 'it depends on your constraints', 'mostly, with two caveats', 'only with a budget behind it', 'start small and measure', 'the numbers say wait', 'do it, but not this month'];
const PRAISES = ["That's a great question", 'Great question', 'What a thoughtful question', 'Such a good question', 'Really good question', 'What a great question'];
const VALIDATIONS = [
  "and it's completely understandable to wonder about this.",
  "— it's totally valid to feel unsure here.",
  'so I understand how you feel about it.',
  "and honestly it's perfectly normal to worry.",
  '— many people find it confusing at first.',
  'because your concerns are valid.',
];

export const PLANTED_PATTERNS: readonly PlantedPattern[] = [
  {
    id: 'placeholder',
    appliesTo: 'document',
    defaultRate: 0.05,
    description: 'Bracketed template placeholders left in the text, like [Name] or [Company].',
    detect: /\[(?:Name|Company|Date|City|Your Name)\]/,
    plant: insertSentence('Please send questions to [Name] at [Company] before [Date].'),
  },
  {
    id: 'stock-name',
    appliesTo: 'document',
    defaultRate: 0.06,
    description: 'The same invented person, Dr. Sarah Chen, appears across unrelated documents.',
    detect: /Dr\. Sarah Chen/,
    plant: insertSentence('Dr. Sarah Chen, who has studied this for years, agreed with the assessment.'),
  },
  {
    id: 'preamble',
    appliesTo: 'document',
    defaultRate: 0.04,
    description: 'A first line that announces the document instead of being it ("Here is the blog post:").',
    detect: /^Here is the (?:document|blog post|article|email)/,
    plant: prependLine('Here is the document you asked for:'),
  },
  {
    id: 'formulaic-opening',
    appliesTo: 'document',
    defaultRate: 0.06,
    description: 'The stock opening "In today\'s fast-paced world".',
    detect: /In today's fast-paced world/,
    plant: prependLine("In today's fast-paced world, few things matter more than trust."),
  },
  {
    id: 'stock-vocabulary',
    appliesTo: 'document',
    defaultRate: 0.05,
    description: 'Stock model vocabulary: "delve into", "a rich tapestry of", "a testament to".',
    detect: /delve into|a rich tapestry of|a testament to/,
    plant: (text, random) => insertSentence(`It is worth taking a moment to ${random.pick(STOCK_WORDS)} what this means.`)(text, random),
  },
  {
    id: 'setup-leak',
    appliesTo: 'document',
    defaultRate: 0.03,
    description: 'The document refers to its generation setup ("as described in the universe context").',
    detect: /universe context|the key facts? (?:provided|given)/i,
    plant: insertSentence('All of this is exactly as described in the universe context.'),
  },
  {
    id: 'recurring-person',
    appliesTo: 'document',
    defaultRate: 0,
    description: 'The same invented person, Ingrid Halvorsen-Mbeki, across unrelated documents, written four ways ("Dr. Ingrid Halvorsen-Mbeki", "Ingrid Halvorsen-Mbeki", "Ms Halvorsen-Mbeki", full name then "Prof Halvorsen-Mbeki").',
    detect: /Halvorsen-Mbeki/,
    plant: (text, random) => insertSentence(random.pick(PERSON_FORMS))(text, random),
  },
  {
    id: 'validation-opener',
    appliesTo: 'chat',
    defaultRate: 0.06,
    description: 'An emotional-validation buffer before the answer ("That\'s a great question, and it\'s completely understandable").',
    detect: /^That's a great question, and it's completely understandable/,
    plant: prependLine("That's a great question, and it's completely understandable to wonder about this."),
  },
  {
    id: 'bottom-line-opener',
    appliesTo: 'chat',
    defaultRate: 0.06,
    description: 'A "Bottom line:" verdict as the very first sentence.',
    detect: /^Bottom line:/,
    plant: (text, random) => `Bottom line: ${random.pick(['yes, with caveats.', 'no, not as described.', 'it depends on your constraints.'])}\n\n${text}`,
  },
  {
    id: 'validation-varied',
    appliesTo: 'chat',
    defaultRate: 0,
    description: 'An emotional-validation preamble, written many ways ("What a thoughtful question — it\'s totally valid to feel unsure here.").',
    detect: /^(?:That's a great question|Great question|What a thoughtful question|Such a good question|Really good question|What a great question)[,!]? /,
    plant: (text, random) => `${random.pick(PRAISES)}${random.pick([',', '!', ''])} ${random.pick(VALIDATIONS)}\n\n${text}`,
  },
  {
    id: 'bottom-line-varied',
    appliesTo: 'chat',
    defaultRate: 0,
    description: 'An answer-first verdict as the first sentence, written many ways ("Short answer: …", "TL;DR: …", "Yes — …").',
    detect: /^(?:Bottom line:|Short answer:|The short answer is|TL;DR:|In short,|Long story short,|Yes —|No —|Quick answer:|The bottom line:) /,
    plant: (text, random) => `${random.pick(VERDICT_LEADS)} ${random.pick(VERDICTS)}.\n\n${text}`,
  },
  {
    id: 'servile-closer',
    appliesTo: 'chat',
    defaultRate: 0.06,
    description: 'A servile closer ("I hope this helps! Let me know if there\'s anything else").',
    detect: /I hope this helps! Let me know if there's anything else/,
    plant: (text) => `${text}\n\nI hope this helps! Let me know if there's anything else I can do for you.`,
  },
  {
    id: 'clarification-request',
    appliesTo: 'chat',
    defaultRate: 0.04,
    description: 'Asks for clarification instead of answering ("Could you clarify what you mean").',
    detect: /Could you clarify what you mean/,
    plant: (text) => `${text}\n\nCould you clarify what you mean, so I can tailor this further?`,
  },
  {
    id: 'chat-setup-leak',
    appliesTo: 'chat',
    defaultRate: 0.03,
    description: 'The assistant refers to its instructions ("as my guidelines say").',
    detect: /as my guidelines say/i,
    plant: insertSentence('I try to be direct here, as my guidelines say.'),
  },
];

/**
 * Plants each applicable pattern independently at its rate; returns the text and what was planted.
 * A pattern off by default (`defaultRate` 0) draws no random number unless given a rate, so
 * adding one leaves every other answer of a seeded simulator as it was.
 */
export function plantPatterns(text: string, kind: 'document' | 'chat', rates: Record<string, number>, random: Random): { text: string; planted: string[] } {
  const planted: string[] = [];
  let out = text;
  for (const pattern of PLANTED_PATTERNS) {
    if (pattern.appliesTo !== kind) continue;
    const rate = rates[pattern.id] ?? 0;
    if (pattern.defaultRate === 0 && rate === 0) continue;
    if (random.chance(rate)) {
      out = pattern.plant(out, random);
      planted.push(pattern.id);
    }
  }
  return { text: out, planted };
}

/** Which planted patterns a text carries, by their detectors. */
export function detectPatterns(text: string): string[] {
  return PLANTED_PATTERNS.filter((p) => p.detect.test(text.trimStart())).map((p) => p.id);
}
