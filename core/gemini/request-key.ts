import { createHash } from 'node:crypto';

/**
 * The content address of a model request: what the response cache stores an answer under, and
 * what batch mode sends as a batch request's `metadata.key` to map each response back to its
 * task. Two requests share a key exactly when Gemini is asked the same thing (model, contents,
 * system instruction, generation config) for the same answer slot (the run's seed and the
 * request's variant). The run id is not part of it, so an identical spec submitted again finds
 * every answer of the first.
 */

/** The fields of a `generateContent` request that decide its answer, in Gemini's own shape. */
export interface KeyedRequest {
  /** `gemini-2.5-flash` or `models/gemini-2.5-flash` (the same model). */
  model: string;
  /** Gemini `contents`, exactly as sent. */
  contents: unknown;
  systemInstruction?: unknown;
  /** The whole generation config as sent (temperature, maxOutputTokens, response MIME type and schema…). */
  generationConfig: Record<string, unknown>;
}

/**
 * Which answer of several to the same request this is. `seed` is the run spec's seed (a new seed,
 * new samples); `variant` names the answer's slot in its run (the task's place among tasks that
 * ask the same prompt, and the call's number within its task), so requests that must not share
 * an answer never share a key.
 */
export interface AnswerSlot {
  seed: number;
  variant: string;
}

/** Bumped when what is hashed changes, so answers stored under the old form are never misread. */
const KEY_FORMAT = 'sdf-request-key/1';

/** sha256 (hex) of the canonical serialization of the request and its answer slot. */
export function requestKey(request: KeyedRequest, slot: AnswerSlot): string {
  if (!Number.isSafeInteger(slot.seed) || slot.seed < 0) throw new RangeError(`requestKey: seed must be an integer >= 0, got ${slot.seed}`);
  const canonical = canonicalJson({
    format: KEY_FORMAT,
    model: request.model.replace(/^models\//, ''),
    contents: request.contents,
    systemInstruction: request.systemInstruction,
    generationConfig: request.generationConfig,
    seed: slot.seed,
    variant: slot.variant,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * JSON with object keys sorted at every depth and `undefined` members left out (as JSON.stringify
 * leaves them out), so property order and absent-versus-undefined never change a key. Array order
 * is kept: it is meaning (the turns of `contents`).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`canonicalJson: ${value} has no JSON form`);
    return value;
  }
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) sorted[key] = sortKeys(member);
  }
  return sorted;
}
