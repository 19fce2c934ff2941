import { renderTemplate } from '../prompts/render-template.js';
import type { PromptLibrary } from '../prompts/prompt-library.js';
import { joinPhrases, markerPhrases, markerRegex } from './marker.js';

export { markerRegex } from './marker.js';

/** One structured model call: the audit's three passes are written against this, not a client. */
export type GenerateJson = (stage: 'audit-scan' | 'audit-cluster' | 'audit-rate', prompt: string, schema: Record<string, unknown>) => Promise<unknown>;

export interface AuditSample {
  id: string;
  text: string;
}

export interface AuditedPattern {
  name: string;
  definition: string;
  /**
   * Literal phrases (`|`-separated) that identify the pattern: those the scan proposed for the
   * entry's members that the labelled carriers bear out (see chooseMarker). Absent = reported only.
   */
  marker?: string;
  /** Share of the labelled carriers the marker matches. */
  markerRecall?: number;
  carriers: number;
  prevalence: number;
  /** 95% Wilson interval of the prevalence. */
  ci: [number, number];
  active: boolean;
  examples: string[];
}

export interface PatternReport {
  sampled: number;
  maxPrevalence: number;
  patterns: AuditedPattern[];
  at: string;
}

/** 95% Wilson score interval for k successes in n trials. */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const denominator = 1 + (z * z) / n;
  const centre = p + (z * z) / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, (centre - margin) / denominator), Math.min(1, (centre + margin) / denominator)];
}

const BATCH = 10;
/** How much of each sample the model is shown (and so what its labels are about). */
const SAMPLE_CHARS = 4000;

function samplesBlock(samples: AuditSample[]): string {
  return samples.map((s) => `<sample id="${s.id}">\n${s.text.slice(0, SAMPLE_CHARS)}\n</sample>`).join('\n\n');
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));
}

/**
 * The LLM pattern audit in three passes over a sample of accepted items: scan (batches of
 * samples → proposed recurring patterns), cluster (proposals → a catalog of distinct patterns),
 * autorate (each sample labelled against the catalog). Prevalence with a Wilson interval per
 * pattern; a pattern whose prevalence is above `maxPrevalence` is active.
 */
export async function runPatternAudit(options: { samples: AuditSample[]; generate: GenerateJson; prompts: PromptLibrary; maxPrevalence: number }): Promise<PatternReport> {
  const { samples, generate, prompts, maxPrevalence } = options;
  const schema = (stage: string) => prompts.get(stage).schema ?? {};

  const proposals: { name: string; definition: string; marker?: string }[] = [];
  for (const batch of chunks(samples, BATCH)) {
    const answer = (await generate('audit-scan', renderTemplate(prompts.get('audit-scan').user, { samples: samplesBlock(batch) }), schema('audit-scan'))) as { proposals?: typeof proposals };
    for (const p of answer.proposals ?? []) if (p?.name && p.definition) proposals.push(p);
  }
  if (proposals.length === 0) return { sampled: samples.length, maxPrevalence, patterns: [], at: new Date().toISOString() };

  const proposalBlock = proposals.map((p) => `<proposal name="${p.name}">${p.definition}</proposal>`).join('\n');
  const { catalog = [] } = (await generate('audit-cluster', renderTemplate(prompts.get('audit-cluster').user, { proposals: proposalBlock }), schema('audit-cluster'))) as {
    catalog?: { name: string; definition: string; members: string[] }[];
  };

  const patternBlock = catalog.map((c) => `<pattern name="${c.name}">${c.definition}</pattern>`).join('\n');
  const carriers = new Map<string, string[]>(catalog.map((c) => [c.name, []]));
  for (const batch of chunks(samples, BATCH)) {
    const { labels = [] } = (await generate('audit-rate', renderTemplate(prompts.get('audit-rate').user, { patterns: patternBlock, samples: samplesBlock(batch) }), schema('audit-rate'))) as {
      labels?: { sampleId: string; patterns: string[] }[];
    };
    const inBatch = new Set(batch.map((s) => s.id));
    for (const label of labels) {
      if (!inBatch.has(label.sampleId)) continue;
      for (const name of new Set(label.patterns ?? [])) carriers.get(name)?.push(label.sampleId);
    }
  }

  const n = samples.length;
  const patterns = catalog.map((entry): AuditedPattern => {
    const ids = carriers.get(entry.name) ?? [];
    const members = new Set(entry.members ?? []);
    const proposed = proposals.filter((p) => p.marker && members.has(p.name)).map((p) => p.marker!);
    const chosen = chooseMarker(proposed, new Set(ids), samples);
    return {
      name: entry.name,
      definition: entry.definition,
      ...chosen,
      carriers: ids.length,
      prevalence: ids.length / n,
      ci: wilson(ids.length, n),
      active: ids.length / n > maxPrevalence,
      examples: ids.slice(0, 3),
    };
  });
  patterns.sort((a, b) => b.prevalence - a.prevalence);
  return { sampled: n, maxPrevalence, patterns, at: new Date().toISOString() };
}

/** A phrase must find the labelled pattern, not something else: at most 1 in 10 of its matches outside the carriers. */
const MARKER_PRECISION = 0.9;
/** Below this share of carriers matched, the marker does not identify the pattern and is not enforced. */
const MARKER_RECALL = 0.5;

/**
 * The marker of a catalog entry, checked against the samples the autorate pass labelled with
 * it: every phrase its member proposals offered is kept only if its matches are (nearly all)
 * labelled carriers, and the kept phrases together must match at least half the carriers. The
 * cluster pass merges proposals from different batches, each quoting its own example, so no one
 * proposal's marker stands for the entry; and a marker no label bears out would filter something
 * the audit never measured.
 */
export function chooseMarker(proposed: string[], carrierIds: Set<string>, samples: AuditSample[]): { marker?: string; markerRecall?: number } {
  if (carrierIds.size === 0) return {};
  const phrases = [...new Set(proposed.flatMap(markerPhrases))];
  const kept: string[] = [];
  const covered = new Set<string>();
  for (const phrase of phrases) {
    const regex = markerRegex(phrase);
    // Judged on what the labeller saw of each sample.
    const hits = samples.filter((s) => regex.test(s.text.slice(0, SAMPLE_CHARS)));
    const inCarriers = hits.filter((s) => carrierIds.has(s.id));
    if (inCarriers.length === 0 || inCarriers.length / hits.length < MARKER_PRECISION) continue;
    kept.push(phrase);
    for (const s of inCarriers) covered.add(s.id);
  }
  const recall = covered.size / carrierIds.size;
  if (kept.length === 0 || recall < MARKER_RECALL) return {};
  return { marker: joinPhrases(kept), markerRecall: recall };
}
