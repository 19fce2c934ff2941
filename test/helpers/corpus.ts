import { generateChatResponse } from '../../sim/generators/chat.js';
import { generateDocument } from '../../sim/generators/document.js';
import { PLANTED_PATTERNS } from '../../sim/patterns.js';
import { Random } from '../../sim/random.js';
import { DOC_TYPES } from '../../sim/vocabulary.js';

const TOPICS = 'budgets schedules trust harvest ferries pensions vaccines zoning tariffs orchards bridges libraries sensors payroll rainfall lighthouses grants tuition bakeries freight dialects wetlands audits subways vineyards glaciers clinics ledgers looms marathons festivals quarries ferments reactors kilns'.split(' ');

export interface PlantedCorpus {
  items: { id: string; text: string }[];
  /** Pattern id → ids of the items it was planted in. */
  planted: Record<string, Set<string>>;
}

/**
 * A corpus where the answer is known: `n` varied texts, and each named pattern planted in exactly
 * round(rate × n) of them, chosen at random.
 */
export function plantedCorpus(n: number, kind: 'document' | 'chat', rates: Record<string, number>, seed = 42): PlantedCorpus {
  const random = new Random(seed);
  const items = Array.from({ length: n }, (_, i) => ({
    id: `${kind}-${i}`,
    text:
      kind === 'document'
        ? generateDocument(random, random.pick(DOC_TYPES), `a note about ${random.sample(TOPICS, 3).join(', ')}`, `The assistant ${random.pick(TOPICS)} ${random.pick(TOPICS)}.`)
        : generateChatResponse(random, `how should I plan the migration ${i}`, 'admits uncertainty'),
  }));
  const planted: Record<string, Set<string>> = {};
  for (const [id, rate] of Object.entries(rates)) {
    const pattern = PLANTED_PATTERNS.find((p) => p.id === id);
    if (!pattern) throw new Error(`unknown pattern ${id}`);
    planted[id] = new Set();
    for (const index of random.sample([...items.keys()], Math.round(rate * n))) {
      items[index]!.text = pattern.plant(items[index]!.text, random);
      planted[id].add(items[index]!.id);
    }
  }
  return { items, planted };
}
