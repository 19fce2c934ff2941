import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { chatPatternsIn } from '../filters/chat-patterns.js';
import { corpusFeatures, type FeatureFamily } from '../filters/corpus-gate.js';
import type { ResolvedFilterSpec } from '../filters/filter-spec.js';
import { createItemFilter } from '../filters/item-rules.js';
import { estimatedJaccard, lshBands, minhash } from '../filters/minhash.js';
import { peopleIn, resolvePeople, SurnameDirectory, type PeopleInText } from '../filters/person-names.js';
import { recordText } from '../runs/run-files.js';

export interface AuditItem {
  id: string;
  text: string;
}

export interface Finding {
  /** Rule name (per item), `<family>: <feature>` (corpus), or `near-duplicate`. */
  pattern: string;
  kind: 'rule' | 'corpus' | 'near-duplicate';
  items: number;
  prevalence: number;
  /** The share it must stay under; rules have none (any carrier is a rejection). */
  ceiling?: number;
  examples: { id: string; span?: string }[];
}

export interface AuditReport {
  file?: string;
  items: number;
  findings: Finding[];
}

/** Reads `{text}` records, or chat records `{messages}` whose assistant turns are audited. */
export async function readAuditItems(path: string, field: 'text' | 'messages'): Promise<AuditItem[]> {
  const items: AuditItem[] = [];
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    n++;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${path}:${n}: not valid JSON`);
    }
    const id = String(record.id ?? `line-${n}`);
    if (field === 'messages') {
      if (!Array.isArray(record.messages)) throw new Error(`${path}:${n}: no "messages" array (use --field text for documents)`);
      items.push({ id, text: recordText({ messages: record.messages }) });
    } else {
      if (typeof record.text !== 'string') throw new Error(`${path}:${n}: no "text" string (use --field messages for chats)`);
      items.push({ id, text: record.text });
    }
  }
  return items;
}

/**
 * The same analysis the live filters do, exactly and in memory, over a finished dataset:
 * per-item rules, document frequency of openings, people (one key per person, whatever the
 * form: see person-names.ts) and n-grams against their ceilings, the named chat patterns
 * (chat-patterns.ts) against theirs,
 * and near-duplicates (MinHash + LSH, verified).
 */
export function auditItems(items: AuditItem[], spec: ResolvedFilterSpec, options: { kind: 'document' | 'chat'; universe?: string; ngramCeiling?: number }): AuditReport {
  const n = items.length;
  const findings: Finding[] = [];
  const itemFilter = createItemFilter({ ...spec, builtins: { ...spec.builtins, length: false } }, options.universe ?? '');
  const byRule = new Map<string, { id: string; span?: string }[]>();
  const byFeature = new Map<string, { family: FeatureFamily; label: string; ids: string[] }>();
  const byChatPattern = new Map<string, { share: number; carriers: { id: string; span: string }[] }>();
  const buckets = new Map<string, number>();
  const signatures: Uint32Array[] = [];
  const duplicates: { id: string; span: string }[] = [];
  // A surname-only mention with no full name in its item joins the one full name with that
  // surname in the whole dataset (exact here; the live gate knows only the frequent names).
  const found: PeopleInText[] = items.map((item) => peopleIn(item.text));
  const directory = new SurnameDirectory();
  for (const people of found) for (const key of people.keys) directory.add(key);

  for (const [index, item] of items.entries()) {
    const rejection = itemFilter({ kind: options.kind, text: item.text });
    if (rejection) {
      const carriers = byRule.get(rejection.reason) ?? [];
      carriers.push({ id: item.id, ...(rejection.span ? { span: rejection.span } : {}) });
      byRule.set(rejection.reason, carriers);
    }
    for (const feature of corpusFeatures(item.text, spec.corpus.openingWords, true, resolvePeople(found[index]!, directory.resolve))) {
      const key = `${feature.family}\u0000${feature.label}`;
      const entry = byFeature.get(key) ?? { family: feature.family, label: feature.label, ids: [] };
      entry.ids.push(item.id);
      byFeature.set(key, entry);
    }
    if (options.kind === 'chat') {
      for (const named of chatPatternsIn(item.text, spec)) {
        const entry = byChatPattern.get(named.name) ?? { share: named.share, carriers: [] };
        entry.carriers.push({ id: item.id, span: named.span });
        byChatPattern.set(named.name, entry);
      }
    }
    const signature = minhash(item.text);
    signatures.push(signature);
    const bands = lshBands(signature);
    let duplicateOf: number | undefined;
    for (const [b, band] of bands.entries()) {
      const other = buckets.get(`${b}:${band}`);
      if (other !== undefined && duplicateOf === undefined && estimatedJaccard(signature, signatures[other]!) >= spec.dedup.threshold) duplicateOf = other;
    }
    if (duplicateOf !== undefined) duplicates.push({ id: item.id, span: `similar to ${items[duplicateOf]!.id}` });
    else for (const [b, band] of bands.entries()) if (!buckets.has(`${b}:${band}`)) buckets.set(`${b}:${band}`, index);
  }

  for (const [rule, carriers] of byRule) {
    findings.push({ pattern: rule, kind: 'rule', items: carriers.length, prevalence: carriers.length / n, examples: carriers.slice(0, 3) });
  }
  const ceilings: Record<FeatureFamily, number> = {
    opening: spec.corpus.maxShare.openings,
    name: spec.corpus.maxShare.names,
    ngram: spec.corpus.maxShare.ngrams < 1 ? spec.corpus.maxShare.ngrams : (options.ngramCeiling ?? 0.2),
  };
  const overCeiling = [...byFeature.values()].filter((f) => f.ids.length >= 2 && f.ids.length / n > ceilings[f.family]);
  overCeiling.sort((a, b) => b.ids.length - a.ids.length);
  // Show each family's worst offenders, so frequent n-grams do not bury openings and names.
  const shown: Record<FeatureFamily, number> = { opening: 0, name: 0, ngram: 0 };
  const LIMIT: Record<FeatureFamily, number> = { opening: 20, name: 20, ngram: 10 };
  for (const f of overCeiling) {
    if (shown[f.family]++ >= LIMIT[f.family]) continue;
    findings.push({ pattern: `${f.family}: ${f.label}`, kind: 'corpus', items: f.ids.length, prevalence: f.ids.length / n, ceiling: ceilings[f.family], examples: f.ids.slice(0, 3).map((id) => ({ id })) });
  }
  // Named chat patterns over their share (chat-patterns.ts), by name, like the live gate's rejections.
  for (const [name, { share, carriers }] of byChatPattern) {
    if (carriers.length / n > share) findings.push({ pattern: name, kind: 'corpus', items: carriers.length, prevalence: carriers.length / n, ceiling: share, examples: carriers.slice(0, 3) });
  }
  if (duplicates.length > 0) {
    findings.push({ pattern: 'near-duplicate', kind: 'near-duplicate', items: duplicates.length, prevalence: duplicates.length / n, examples: duplicates.slice(0, 3) });
  }
  findings.sort((a, b) => b.prevalence - a.prevalence);
  return { items: n, findings };
}

export function formatAuditReport(report: AuditReport): string {
  const lines = [`${report.file ?? 'dataset'}: ${report.items} items, ${report.findings.length} findings`];
  if (report.findings.length === 0) lines.push('no pattern found above its ceiling');
  for (const f of report.findings) {
    const ceiling = f.ceiling !== undefined ? ` (ceiling ${(f.ceiling * 100).toFixed(1)}%)` : '';
    lines.push(`${(f.prevalence * 100).toFixed(1).padStart(5)}%  ${String(f.items).padStart(6)}  [${f.kind}] ${f.pattern}${ceiling}`);
    for (const e of f.examples) lines.push(`                 e.g. ${e.id}${e.span ? `: ${JSON.stringify(e.span.slice(0, 80))}` : ''}`);
  }
  return lines.join('\n');
}
