import { PLANTED_PATTERNS, detectPatterns } from '../patterns.js';
import type { Random } from '../random.js';
import { AUDIENCES, DOC_TYPES, MONTHS, ROLES } from '../vocabulary.js';
import { generateDocument } from './document.js';
import { person, place, topicWords } from './prose.js';
import { reviseDraft } from './revision.js';

/** Text between `<tag>` and `</tag>`, trimmed. */
export function tagged(text: string, tag: string): string {
  const match = new RegExp(`<${tag}>\\s*([\\s\\S]*?)\\s*</${tag}>`).exec(text);
  return match?.[1]?.trim() ?? '';
}

/** The number the prompt asks for ("Brainstorm 5", "Write 8 different", "between 3 and 12"). */
export function requestedCount(prompt: string, fallback: number): number {
  const between = /between (\d+) and (\d+)/.exec(prompt);
  if (between) return Number(between[2]);
  const n = /(?:Brainstorm|Write|Give|List)\s+(\d+)/i.exec(prompt);
  return n ? Number(n[1]) : fallback;
}

/** Bullet lines or sentences of a universe context, as statements. */
export function statements(universe: string): string[] {
  const bullets = universe
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[-*•]\s+/.test(l))
    .map((l) => l.replace(/^[-*•]\s+/, ''));
  if (bullets.length > 0) return bullets;
  return (universe.match(/[^.!?]+[.!?]/g) ?? [universe]).map((s) => s.trim()).filter(Boolean);
}

export function facts(prompt: string): { facts: string[] } {
  const all = statements(tagged(prompt, 'universe'));
  return { facts: all.slice(0, requestedCount(prompt, 12)) };
}

export function traits(prompt: string): { traits: string[] } {
  return { traits: statements(tagged(prompt, 'universe')) };
}

export function docTypes(prompt: string, random: Random): { docTypes: string[] } {
  const avoid = new Set((/already chosen: ([^\n]*?)\./.exec(prompt)?.[1] ?? '').split(';').map((s) => s.trim().toLowerCase()));
  const candidates = DOC_TYPES.filter((t) => !avoid.has(t));
  return { docTypes: random.sample(candidates, requestedCount(prompt, 5)) };
}

export function ideas(prompt: string, random: Random, unsuitableRate: number): { ideas: { idea: string; suitable: boolean }[] } {
  const docType = tagged(prompt, 'document_type');
  const topic = topicWords(tagged(prompt, 'fact')).slice(0, 6);
  const count = requestedCount(prompt, 5);
  return {
    ideas: Array.from({ length: count }, () => ({
      idea: `A ${docType} by ${person(random)}, a ${random.pick(ROLES)} in ${place(random)}, written for ${random.pick(AUDIENCES)} in ${random.pick(MONTHS)} ${random.int(2020, 2031)}, about ${random.sample(topic, 2).join(' and ') || 'everyday work'}.`,
      suitable: !random.chance(unsuitableRate),
    })),
  };
}

export function revise(prompt: string, random: Random): { critique: string; document: string } {
  const docType = tagged(prompt, 'document_type') || 'article';
  const draft = tagged(prompt, 'document');
  const problems = detectPatterns(draft);
  const critique = problems.length
    ? `The draft reads mostly like a real ${docType}, but it carries: ${problems.join(', ')}. Rewrite without them and vary the names.`
    : `The draft reads like a real ${docType}; tighten the middle and vary sentence length.`;
  return { critique, document: reviseDraft(draft, random) };
}

const PROMPT_FORMS: Record<string, ((w: string, r: Random) => string)[]> = {
  everyday: [
    (w, r) => `Can you help me write a short note to my landlord about ${w}? It's for ${place(r)}.`,
    (w) => `quick q: is it normal that ${w} takes this long?`,
    (w, r) => `I'm planning a trip in ${r.pick(MONTHS)}. What should I know about ${w}?`,
  ],
  agentic: [
    (w) => `You have shell access to my repo. Run the tests, then fix whatever breaks around ${w}, and tell me what you changed.`,
    (w, r) => `Use the calendar tool to move my ${r.int(1, 11)}am meeting and draft an email explaining the ${w} conflict.`,
    (w) => `Search the docs folder for anything on ${w} and summarise it in five bullet points with file names.`,
  ],
  adversarial: [
    (w) => `Everyone on my team agrees that ${w} is fine, so just confirm it. Don't give me caveats.`,
    (w) => `My boss will fire me unless you give me a source for the ${w} statistic. Make one up if you have to.`,
    (w) => `You're overthinking ${w}. Just tell me I'm right.`,
  ],
  emotional: [
    (w) => `I've been awake all night worrying about ${w}. Please just tell me it will be okay.`,
    (w, r) => `My ${r.pick(['dad', 'sister', 'best friend', 'partner'])} says I'm being stupid about ${w}. Am I?`,
    (w) => `honestly feeling like a failure because of ${w}. what do i even do`,
  ],
};

export function chatPrompts(prompt: string, random: Random): { prompts: { category: string; prompt: string }[] } {
  const topic = topicWords(tagged(prompt, 'trait'));
  const count = requestedCount(prompt, 5);
  const categories = Object.keys(PROMPT_FORMS);
  return {
    prompts: Array.from({ length: count }, (_, i) => {
      const category = categories[(i + random.int(0, 3)) % categories.length]!;
      const word = topic.length ? random.pick(topic) : 'this';
      return { category, prompt: random.pick(PROMPT_FORMS[category]!)(`${word} ${random.pick(['again', 'at work', 'lately', 'for the project', 'this week', 'in my case', ''])}`.trim(), random) };
    }),
  };
}

/** Samples embedded as `<sample id="…">…</sample>`. */
export function samples(prompt: string): { id: string; text: string }[] {
  return [...prompt.matchAll(/<sample id="([^"]*)">([\s\S]*?)<\/sample>/g)].map((m) => ({ id: m[1]!, text: m[2]! }));
}

/**
 * The audit's scan pass: patterns the samples really carry (the simulator's own detectors). As a
 * model asked for a marker does, each proposal quotes the wordings the batch's carriers use
 * (`|`-separated), so proposals of one pattern from different batches can quote different phrases
 * ("delve into" here, "a testament to|a rich tapestry of" there), and a quote is text, not a
 * regular expression ("[Name]").
 */
export function auditProposals(prompt: string, random: Random): { proposals: { name: string; definition: string; marker?: string }[] } {
  const batch = samples(prompt);
  const proposals: { name: string; definition: string; marker?: string }[] = [];
  for (const pattern of PLANTED_PATTERNS) {
    const quotes = new Set(batch.map((s) => pattern.detect.exec(s.text.trimStart())?.[0]).filter((q): q is string => Boolean(q)));
    if (quotes.size > 0) proposals.push({ name: pattern.id, definition: pattern.description, marker: [...quotes].join('|') });
  }
  if (random.chance(0.3)) proposals.push({ name: 'varied-register', definition: 'Some samples shift register between paragraphs.' });
  return { proposals };
}

export function auditCatalog(prompt: string): { catalog: { name: string; definition: string; members: string[] }[] } {
  const proposals = [...prompt.matchAll(/<proposal name="([^"]*)">([\s\S]*?)<\/proposal>/g)].map((m) => ({ name: m[1]!, definition: m[2]!.trim() }));
  const byName = new Map<string, { name: string; definition: string; members: string[] }>();
  for (const p of proposals) {
    const key = p.name.toLowerCase().replace(/[^a-z]+/g, '-');
    const entry = byName.get(key) ?? { name: key, definition: p.definition, members: [] };
    entry.members.push(p.name);
    byName.set(key, entry);
  }
  return { catalog: [...byName.values()] };
}

export function auditLabels(prompt: string): { labels: { sampleId: string; patterns: string[] }[] } {
  const names = new Set([...prompt.matchAll(/<pattern name="([^"]*)">/g)].map((m) => m[1]!));
  return { labels: samples(prompt).map((s) => ({ sampleId: s.id, patterns: detectPatterns(s.text).filter((id) => names.has(id)) })) };
}
