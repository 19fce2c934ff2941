import { addTallies, tallyTokens, tokensOf, type TokenTally } from './tokens.js';

/**
 * A GenerateContentRequest as the simulator reads it, and the prompt it makes: the system
 * instruction's parts, then every content part, in order (the order a prefix cache sees them).
 */
export interface Part {
  text?: string;
}
export interface Content {
  role?: string;
  parts?: Part[];
}
export interface GenerationConfig {
  maxOutputTokens?: number;
  responseSchema?: unknown;
  responseJsonSchema?: unknown;
  responseMimeType?: string;
}
export interface GenerateRequest {
  model?: string;
  contents?: Content[] | string;
  systemInstruction?: Content | string;
  generationConfig?: GenerationConfig;
  cachedContent?: string;
  tools?: unknown[];
  toolConfig?: unknown;
}

/** One piece of a prompt: a part's text and who said it (`system`, `user`, `model`). */
export interface PromptPiece {
  role: string;
  text: string;
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function camelKeys(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), v]));
}

/**
 * Gemini parses request JSON as protobuf JSON, which accepts `generation_config` as well as
 * `generationConfig` (the batch guide's JSONL examples use snake_case). The request's own keys and
 * its generation config's keys are renamed; schemas inside are left alone (their property names
 * are the caller's data).
 */
export function normalizeRequest(raw: unknown): GenerateRequest {
  const request = camelKeys(raw) as Record<string, unknown>;
  if (request.generationConfig) request.generationConfig = camelKeys(request.generationConfig);
  if (request.systemInstruction && typeof request.systemInstruction === 'object') request.systemInstruction = camelKeys(request.systemInstruction);
  return request as GenerateRequest;
}

function contentList(value: GenerateRequest['contents'] | GenerateRequest['systemInstruction']): Content[] {
  if (!value) return [];
  if (typeof value === 'string') return [{ parts: [{ text: value }] }];
  return Array.isArray(value) ? value : [value];
}

/** The pieces of a system instruction and of contents, in prompt order. */
export function promptPieces(systemInstruction: GenerateRequest['systemInstruction'], contents: GenerateRequest['contents']): PromptPiece[] {
  const pieces: PromptPiece[] = [];
  for (const c of contentList(systemInstruction)) for (const p of c.parts ?? []) pieces.push({ role: 'system', text: p.text ?? '' });
  for (const c of contentList(contents)) for (const p of c.parts ?? []) pieces.push({ role: c.role ?? 'user', text: p.text ?? '' });
  return pieces;
}

/** A line of a prompt: the text up to a line break or a piece's end, its token tally, and, on a piece's first line, the piece's role. */
export interface PromptLine {
  text: string;
  tally: TokenTally;
  role?: string;
}

/**
 * The prompt cut into lines, each counted once: their tallies sum to the prompt's tokens, and
 * implicit caching reads its prefixes off them (token counting is the costliest step of a request).
 */
export function promptLines(pieces: readonly PromptPiece[]): PromptLine[] {
  const lines: PromptLine[] = [];
  for (const { role, text } of pieces) {
    let start = 0;
    while (start < text.length) {
      const newline = text.indexOf('\n', start);
      const end = newline === -1 ? text.length : newline;
      const line = text.slice(start, end);
      lines.push(start === 0 ? { text: line, tally: tallyTokens(line), role } : { text: line, tally: tallyTokens(line) });
      start = end + 1;
    }
  }
  return lines;
}

export function tokensOfLines(lines: readonly PromptLine[]): number {
  return tokensOf(lines.reduce((sum, line) => addTallies(sum, line.tally), { words: 0, marks: 0 }));
}

/** The text of some contents, parts joined by newlines (what the answer generators read). */
export function textOf(value: GenerateRequest['contents'] | GenerateRequest['systemInstruction']): string {
  return contentList(value)
    .flatMap((c) => (c.parts ?? []).map((p) => p.text ?? ''))
    .join('\n');
}

/** A content's role Gemini refuses (only `user` and `model` are turns; none means user), if any. */
export function invalidRole(contents: GenerateRequest['contents']): string | undefined {
  for (const c of contentList(contents)) if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') return c.role;
  return undefined;
}

/** The text of the last user turn of multi-turn contents ('' when there is none). */
export function lastUserText(contents: GenerateRequest['contents']): string {
  const turns = contentList(contents).filter((c) => (c.role ?? 'user') === 'user');
  return (turns[turns.length - 1]?.parts ?? []).map((p) => p.text ?? '').join('\n');
}
